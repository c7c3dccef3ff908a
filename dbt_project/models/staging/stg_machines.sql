-- One row per machine: the newest landed snapshot of each machine wins.
select distinct on (machine_id)
    machine_id,
    model,
    age_years,
    location_id,
    _partition_date as snapshot_date
from {{ source('raw', 'machines') }}
order by machine_id, _partition_date desc, _row_number desc
