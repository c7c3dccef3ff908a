{#- One row per key of a raw event table: where the same fact landed twice (a file re-sent
    under a new name, a late file repeating an old day), the first-landed copy counts and the
    others are ignored, so no event is counted twice. Empty key cells compare equal. -#}
{% macro first_landed(source_table, key) -%}
select distinct on ({{ key | join(', ') }}) *
from {{ source_table }}
order by {{ key | join(', ') }}, _partition_date, _source_file, _row_number
{%- endmacro %}
