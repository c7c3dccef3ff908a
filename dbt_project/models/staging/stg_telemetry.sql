-- One row per machine, timestamp and sensor channel: raw.telemetry has a column per channel
-- (added the first time the channel lands), unpivoted here whatever the channels are. A
-- reading that landed twice counts once (macro first_landed).
select
    t.machine_id,
    t.measured_at,
    {{ utc_date('t.measured_at') }} as measured_date,
    reading.key as sensor,
    (reading.value #>> '{}')::double precision as reading_value
from (
    {{ first_landed(source('raw', 'telemetry'), ['machine_id', 'measured_at']) }}
) as t
cross join lateral jsonb_each(
    to_jsonb(t)
    - array['machine_id', 'measured_at', '_partition_date', '_source_file', '_row_number',
            '_loaded_at']
) as reading
where jsonb_typeof(reading.value) = 'number'
