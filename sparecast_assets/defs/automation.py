"""The automation sensor that evaluates the assets' automation conditions, on by default: new
raw loads refresh the dbt models, features and forecast without anyone pressing a button."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "sparecast_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
