{{
    config(
        materialized='incremental',
        unique_key=['machine_id', 'part_id', 'activity_date'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per machine, part it carries, and day of the window: replacements, failures, and
-- days since the part was last replaced on that machine (null until the first replacement).

with replacements as (
    select machine_id, part_id, used_date, sum(quantity) as quantity
    from {{ ref('stg_part_usage') }}
    where machine_id is not null
    group by machine_id, part_id, used_date
),

failures as (
    select machine_id, part_id, failed_date, count(*) as failures
    from {{ ref('stg_failures') }}
    where part_id is not null
    group by machine_id, part_id, failed_date
),

-- The latest replacement before the window, so the running "last replaced" is right from the
-- window's first day without reading the earlier days of the grid.
replaced_before_window as (
    select machine_id, part_id, max(used_date) as last_replaced_date
    from replacements
    where {{ before_window('used_date') }}
    group by machine_id, part_id
),

grid as (
    select pairs.machine_id, pairs.part_id, calendar.calendar_date as activity_date
    from {{ ref('int_machine_parts') }} as pairs
    cross join {{ ref('int_data_calendar') }} as calendar
    where {{ in_window('calendar.calendar_date') }}
),

daily as (
    select
        grid.machine_id,
        grid.part_id,
        grid.activity_date,
        coalesce(replacements.quantity, 0) as parts_replaced,
        coalesce(failures.failures, 0) as failures,
        coalesce(
            max(replacements.used_date) over (
                partition by grid.machine_id, grid.part_id order by grid.activity_date
            ),
            replaced_before_window.last_replaced_date
        ) as last_replaced_date
    from grid
    left join replacements
        on replacements.machine_id = grid.machine_id
        and replacements.part_id = grid.part_id
        and replacements.used_date = grid.activity_date
    left join failures
        on failures.machine_id = grid.machine_id
        and failures.part_id = grid.part_id
        and failures.failed_date = grid.activity_date
    left join replaced_before_window
        on replaced_before_window.machine_id = grid.machine_id
        and replaced_before_window.part_id = grid.part_id
)

select
    machine_id,
    part_id,
    activity_date,
    parts_replaced,
    failures,
    last_replaced_date,
    activity_date - last_replaced_date as days_since_replacement
from daily
