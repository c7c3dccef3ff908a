-- One row per part and location: the newest stock count (a later count replaces an earlier
-- one; counts are snapshots, not movements).
select distinct on (part_id, location_id)
    part_id,
    location_id,
    snapshot_at,
    snapshot_date,
    -- units
    on_hand,
    on_order
from {{ ref('stg_inventory') }}
order by part_id, location_id, snapshot_at desc
