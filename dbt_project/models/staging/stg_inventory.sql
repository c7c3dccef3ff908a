select
    part_id,
    location_id,
    snapshot_at,
    {{ utc_date('snapshot_at') }} as snapshot_date,
    -- units
    on_hand,
    coalesce(on_order, 0) as on_order
from {{ source('raw', 'inventory') }}
