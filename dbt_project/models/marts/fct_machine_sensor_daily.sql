{{
    config(
        materialized='incremental',
        unique_key=['machine_id', 'reading_date', 'sensor'],
        incremental_strategy='delete+insert',
    )
}}
-- One row per machine, day and sensor channel that has readings: daily statistics.

select
    machine_id,
    measured_date as reading_date,
    sensor,
    count(*) as readings,
    round(avg(reading_value)::numeric, 6)::double precision as mean_value,
    min(reading_value) as min_value,
    max(reading_value) as max_value,
    round(coalesce(stddev_samp(reading_value), 0)::numeric, 6)::double precision as stddev_value
from {{ ref('stg_telemetry') }}
where {{ in_window('measured_date') }}
group by machine_id, measured_date, sensor
