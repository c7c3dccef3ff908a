"""The one partitioning of sparecast: UTC days, matching the landing zone's ``dt=`` folders."""

import os

import dagster as dg

# The first day a deployment can hold. The Azure sample starts in June 2014; set
# SPARECAST_PARTITIONS_START for older history.
PARTITIONS_START = os.environ.get("SPARECAST_PARTITIONS_START", "2014-01-01")

# end_offset=1: today is a partition too, so files landing during the day load the same day
# (and load again as more of the day's files arrive).
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC",
                                                end_offset=1)

# A range of days (a backfill) runs as one run per asset, not one run per day.
single_run = dg.BackfillPolicy.single_run()
