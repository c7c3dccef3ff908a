-- One row per machine: master data where it exists, plus every machine seen only in events.
with seen as (
    select machine_id from {{ ref('stg_machines') }}
    union
    select machine_id from {{ ref('stg_errors') }}
    union
    select machine_id from {{ ref('stg_failures') }}
    union
    select machine_id from {{ ref('stg_part_usage') }} where machine_id is not null
    union
    select distinct machine_id from {{ source('raw', 'telemetry') }}
)

select
    seen.machine_id,
    machines.model,
    machines.age_years,
    machines.location_id,
    machines.machine_id is not null as has_master_data
from seen
left join {{ ref('stg_machines') }} as machines on machines.machine_id = seen.machine_id
