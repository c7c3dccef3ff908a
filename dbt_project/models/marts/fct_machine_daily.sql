{{
    config(
        materialized='incremental',
        unique_key=['machine_id', 'activity_date'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per machine per day of the window. Channel-, code- and part-specific figures are
-- jsonb maps, so new sensors, error codes and parts need no schema change.

with calendar as (
    select calendar_date from {{ ref('int_data_calendar') }}
    where {{ in_window('calendar_date') }}
),

sensors as (
    select
        machine_id,
        reading_date,
        sum(readings) as readings,
        jsonb_object_agg(sensor, round(mean_value::numeric, 4)) as sensor_mean,
        jsonb_object_agg(sensor, round(max_value::numeric, 4)) as sensor_max
    from {{ ref('fct_machine_sensor_daily') }}
    where {{ in_window('reading_date') }}
    group by machine_id, reading_date
),

errors_by_code as (
    select machine_id, error_date, error_code, count(*) as errors
    from {{ ref('stg_errors') }}
    where {{ in_window('error_date') }}
    group by machine_id, error_date, error_code
),

errors as (
    select
        machine_id,
        error_date,
        sum(errors) as error_count,
        jsonb_object_agg(error_code, errors) as error_counts
    from errors_by_code
    group by machine_id, error_date
),

failures as (
    select machine_id, failed_date, count(*) as failure_count
    from {{ ref('stg_failures') }}
    where {{ in_window('failed_date') }}
    group by machine_id, failed_date
),

parts as (
    select
        machine_id,
        activity_date,
        sum(parts_replaced) as parts_replaced,
        jsonb_object_agg(part_id, days_since_replacement)
            filter (where days_since_replacement is not null) as days_since_replacement
    from {{ ref('int_machine_part_daily') }}
    where {{ in_window('activity_date') }}
    group by machine_id, activity_date
)

select
    machines.machine_id,
    calendar.calendar_date as activity_date,
    coalesce(sensors.readings, 0) as telemetry_readings,
    coalesce(sensors.sensor_mean, '{}'::jsonb) as sensor_mean,
    coalesce(sensors.sensor_max, '{}'::jsonb) as sensor_max,
    coalesce(errors.error_count, 0) as error_count,
    coalesce(errors.error_counts, '{}'::jsonb) as error_counts,
    coalesce(failures.failure_count, 0) as failure_count,
    coalesce(parts.parts_replaced, 0) as parts_replaced,
    coalesce(parts.days_since_replacement, '{}'::jsonb) as days_since_replacement
from {{ ref('dim_machines') }} as machines
cross join calendar
left join sensors
    on sensors.machine_id = machines.machine_id and sensors.reading_date = calendar.calendar_date
left join errors
    on errors.machine_id = machines.machine_id and errors.error_date = calendar.calendar_date
left join failures
    on failures.machine_id = machines.machine_id and failures.failed_date = calendar.calendar_date
left join parts
    on parts.machine_id = machines.machine_id and parts.activity_date = calendar.calendar_date
