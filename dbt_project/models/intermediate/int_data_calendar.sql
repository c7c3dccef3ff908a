-- One row per day from the first to the last day that any event source has data for.
-- Facts are zero-filled over this span, so "no demand" and "no data" stay distinct.
with event_days as (
    select min(used_date) as first_date, max(used_date) as last_date
    from {{ ref('stg_part_usage') }}
    union all
    select min(error_date), max(error_date) from {{ ref('stg_errors') }}
    union all
    select min(failed_date), max(failed_date) from {{ ref('stg_failures') }}
    union all
    select min({{ utc_date('measured_at') }}), max({{ utc_date('measured_at') }})
    from {{ source('raw', 'telemetry') }}
    union all
    select min(snapshot_date), max(snapshot_date) from {{ ref('stg_inventory') }}
)

select day::date as calendar_date
from (select min(first_date) as first_date, max(last_date) as last_date from event_days) as span
cross join lateral generate_series(span.first_date, span.last_date, interval '1 day') as day
