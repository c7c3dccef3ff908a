{{
    config(
        materialized='incremental',
        unique_key=['part_id', 'activity_date'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per part per day of the window: the usage and health of the machines that carry the
-- part, the signals a part-level demand model learns from.

with machine_days as (
    select machine_id, activity_date, telemetry_readings, error_count, failure_count
    from {{ ref('fct_machine_daily') }}
    where {{ in_window('activity_date') }}
)

select
    carried.part_id,
    carried.activity_date,
    count(*) as machines_carrying,
    count(*) filter (where machine_days.telemetry_readings > 0) as machines_reporting,
    sum(carried.failures) as part_failures,
    sum(machine_days.error_count) as machine_errors,
    sum(machine_days.failure_count) as machine_failures,
    avg(carried.days_since_replacement) as mean_days_since_replacement,
    max(carried.days_since_replacement) as max_days_since_replacement
from {{ ref('int_machine_part_daily') }} as carried
left join machine_days
    on machine_days.machine_id = carried.machine_id
    and machine_days.activity_date = carried.activity_date
where {{ in_window('carried.activity_date') }}
group by carried.part_id, carried.activity_date
