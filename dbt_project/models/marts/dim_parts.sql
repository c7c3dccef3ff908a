-- One row per part: master data where it exists, plus every part seen only in events, so no
-- demand is lost for parts whose master data has not landed yet.
with seen as (
    select part_id from {{ ref('stg_part_usage') }}
    union
    select part_id from {{ ref('stg_failures') }} where part_id is not null
    union
    select part_id from {{ ref('stg_inventory') }}
    union
    select part_id from {{ ref('stg_parts') }}
)

select
    seen.part_id,
    parts.description,
    parts.unit_cost,
    parts.lead_time_days,
    parts.min_order_qty,
    parts.pack_size,
    parts.criticality,
    parts.part_id is not null as has_master_data
from seen
left join {{ ref('stg_parts') }} as parts on parts.part_id = seen.part_id
