{#- The run's partition window as SQL predicates. Both vars null means the whole history. -#}

{% macro in_window(column) -%}
  {%- if var('start_date') and var('end_date') -%}
    ({{ column }} >= '{{ var("start_date") }}'::date and {{ column }} < '{{ var("end_date") }}'::date)
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}

{% macro before_window(column) -%}
  {%- if var('start_date') -%}
    ({{ column }} < '{{ var("start_date") }}'::date)
  {%- else -%}
    false
  {%- endif -%}
{%- endmacro %}

{% macro utc_date(column) -%}
  ({{ column }} at time zone 'UTC')::date
{%- endmacro %}
