select
    part_id,
    machine_id,
    work_order_id,
    coalesce(reason, 'unknown') as reason,
    -- units consumed
    quantity,
    used_at,
    {{ utc_date('used_at') }} as used_date,
    _partition_date as landed_date
from {{ source('raw', 'part_usage') }}
