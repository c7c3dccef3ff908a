-- One row per errors key: a fact that landed twice counts once (macro first_landed).
select
    machine_id,
    error_code,
    error_at,
    {{ utc_date('error_at') }} as error_date
from (
    {{ first_landed(source('raw', 'errors'), ['machine_id', 'error_at', 'error_code']) }}
) as first_landed
