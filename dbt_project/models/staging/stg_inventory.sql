-- One row per inventory key: a fact that landed twice counts once (macro first_landed).
select
    part_id,
    location_id,
    snapshot_at,
    {{ utc_date('snapshot_at') }} as snapshot_date,
    -- units
    on_hand,
    coalesce(on_order, 0) as on_order
from (
    {{ first_landed(source('raw', 'inventory'), ['part_id', 'location_id', 'snapshot_at']) }}
) as first_landed
