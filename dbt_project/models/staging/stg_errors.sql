select
    machine_id,
    error_code,
    error_at,
    {{ utc_date('error_at') }} as error_date
from {{ source('raw', 'errors') }}
