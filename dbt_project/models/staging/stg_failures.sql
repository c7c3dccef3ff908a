-- One row per failures key: a fact that landed twice counts once (macro first_landed).
select
    machine_id,
    part_id,
    failure_mode,
    failed_at,
    {{ utc_date('failed_at') }} as failed_date
from (
    {{ first_landed(source('raw', 'failures'), ['machine_id', 'failed_at', 'part_id']) }}
) as first_landed
