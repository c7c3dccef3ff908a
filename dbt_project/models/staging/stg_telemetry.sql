-- One row per machine, timestamp and sensor channel: the readings map unpacked. A reading
-- that landed twice counts once (macro first_landed).
select
    t.machine_id,
    t.measured_at,
    {{ utc_date('t.measured_at') }} as measured_date,
    reading.key as sensor,
    (reading.value #>> '{}')::double precision as reading_value
from (
    {{ first_landed(source('raw', 'telemetry'), ['machine_id', 'measured_at']) }}
) as t
cross join lateral jsonb_each(t.readings) as reading
