-- One row per machine and part that the machine is known to carry: it consumed or failed it.
select distinct machine_id, part_id
from {{ ref('stg_part_usage') }}
where machine_id is not null
union
select distinct machine_id, part_id
from {{ ref('stg_failures') }}
where part_id is not null
