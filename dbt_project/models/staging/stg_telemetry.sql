-- One row per machine, timestamp and sensor channel: the readings map unpacked.
select
    t.machine_id,
    t.measured_at,
    {{ utc_date('t.measured_at') }} as measured_date,
    reading.key as sensor,
    (reading.value #>> '{}')::double precision as reading_value
from {{ source('raw', 'telemetry') }} as t
cross join lateral jsonb_each(t.readings) as reading
