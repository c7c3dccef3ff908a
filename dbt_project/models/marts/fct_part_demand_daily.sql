{{
    config(
        materialized='incremental',
        unique_key=['part_id', 'demand_date'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per part per day of the window, zero-filled: units consumed, split by reason.

with usage as (
    select
        part_id,
        used_date,
        sum(quantity) as quantity,
        sum(quantity) filter (where reason = 'failure') as failure_quantity,
        count(distinct machine_id) as machines
    from {{ ref('stg_part_usage') }}
    where {{ in_window('used_date') }}
    group by part_id, used_date
)

select
    parts.part_id,
    calendar.calendar_date as demand_date,
    coalesce(usage.quantity, 0) as demand_quantity,
    coalesce(usage.failure_quantity, 0) as failure_demand_quantity,
    coalesce(usage.machines, 0) as machines_served
from {{ ref('dim_parts') }} as parts
cross join {{ ref('int_data_calendar') }} as calendar
left join usage
    on usage.part_id = parts.part_id
    and usage.used_date = calendar.calendar_date
where {{ in_window('calendar.calendar_date') }}
