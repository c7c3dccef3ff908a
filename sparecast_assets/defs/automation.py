"""Declarative automation: new raw loads refresh the dbt models, features and forecast without
anyone pressing a button, through the automation sensor (on by default)."""

import dagster as dg

AC = dg.AutomationCondition

# `eager()` looks only at the latest daily partition and waits while any dependency partition
# is missing. Neither fits a landing zone: history and late files arrive for old days, and a
# source with no file for a day has no partition for it (no rows is its content). So: refresh
# every partition whose upstream partitions were loaded since it was last handled, once nothing
# it depends on is still running.
# A load whose blocking check failed (rows that do not match the files, duplicate keys) has
# committed its rows; nothing downstream refreshes from it until the check passes again.
# (Checks not yet run do not hold anything back: a chain requested in one tick runs in one
# run, where Dagster itself skips what is downstream of a failing blocking check.)
deps_blocked = AC.any_deps_match(
    AC.any_checks_match(AC.check_failed(), blocking_only=True)).with_label("deps_blocked")

refresh_after_loads = (
    AC.any_deps_updated().since_last_handled()
    & ~deps_blocked
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
).with_label("refresh_after_loads")

# The model's first training: as soon as its features are (being) built. Retraining after that
# is the retrain_part_demand_model schedule's job, not every new day's.
first_training = (
    AC.missing() & AC.any_deps_updated()
    & ~deps_blocked
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
).with_label("first_training")

automation_sensor = dg.AutomationConditionSensorDefinition(
    "sparecast_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
)
