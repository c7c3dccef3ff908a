-- One row per part_usage key: a fact that landed twice counts once (macro first_landed).
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
from (
    {{ first_landed(source('raw', 'part_usage'), ['part_id', 'used_at', 'machine_id', 'work_order_id']) }}
) as first_landed
