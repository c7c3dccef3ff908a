{{
    config(
        materialized='incremental',
        unique_key=['part_id', 'demand_date'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per part per day, zero-filled: units consumed, split by reason. A run rebuilds the
-- days of its window and the days of any usage landed in the window, so a late file (events
-- of March landed under dt= in April) corrects March's demand.

with rebuilt_dates as (
    select calendar_date as demand_date
    from {{ ref('int_data_calendar') }}
    where {{ in_window('calendar_date') }}
    union
    select usage.used_date
    from {{ ref('stg_part_usage') }} as usage
    inner join {{ ref('int_data_calendar') }} as calendar
        on calendar.calendar_date = usage.used_date
    where {{ in_window('usage.landed_date') }}
),

-- Parts seen for the first time get their whole zero-filled history, not just the window.
grid as (
    select parts.part_id, rebuilt_dates.demand_date
    from {{ ref('dim_parts') }} as parts
    cross join rebuilt_dates
    {% if is_incremental() %}
    union
    select parts.part_id, calendar.calendar_date
    from {{ ref('dim_parts') }} as parts
    cross join {{ ref('int_data_calendar') }} as calendar
    where not exists (select 1 from {{ this }} as known where known.part_id = parts.part_id)
    {% endif %}
),

usage as (
    select
        part_id,
        used_date,
        sum(quantity) as quantity,
        sum(quantity) filter (where reason = 'failure') as failure_quantity,
        count(distinct machine_id) as machines
    from {{ ref('stg_part_usage') }}
    where used_date in (select demand_date from grid)
    group by part_id, used_date
)

select
    grid.part_id,
    grid.demand_date,
    coalesce(usage.quantity, 0) as demand_quantity,
    coalesce(usage.failure_quantity, 0) as failure_demand_quantity,
    coalesce(usage.machines, 0) as machines_served
from grid
left join usage
    on usage.part_id = grid.part_id
    and usage.used_date = grid.demand_date
