-- One row per part: the newest landed snapshot of each part wins.
select distinct on (part_id)
    part_id,
    description,
    unit_cost,
    lead_time_days,
    min_order_qty,
    pack_size,
    lower(criticality) as criticality,
    _partition_date as snapshot_date
from {{ source('raw', 'parts') }}
order by part_id, _partition_date desc, _row_number desc
