"""The ``analytics`` schema as a product: documented views for Power BI and the dashboard, and
the read-only role BI tools connect as."""
