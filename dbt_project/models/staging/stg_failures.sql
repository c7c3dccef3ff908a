select
    machine_id,
    part_id,
    failure_mode,
    failed_at,
    {{ utc_date('failed_at') }} as failed_date
from {{ source('raw', 'failures') }}
