from datetime import date

import pytest

from sparecast_assets.landing.contract import LandingKeyError, landing_key, parse_landing_key


def test_a_contract_key_parses_into_source_day_name_and_format():
    key = parse_landing_key("telemetry/dt=2015-01-03/plant-7.csv.gz")

    assert (key.source, key.partition_date, key.name, key.format) == (
        "telemetry", date(2015, 1, 3), "plant-7", "csv.gz")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("spares/dt=2015-01-03/a.csv", "unknown source 'spares'"),
        ("errors/dt=2015-02-30/a.csv", "dt=2015-02-30 is not a date"),
        ("errors/2015-01-03/a.csv", "does not match"),
        ("errors/dt=2015-01-03/a.xlsx", "does not match"),
        ("errors/dt=2015-01-03/nested/a.csv", "does not match"),
        ("errors/dt=2015-01-03/._a.csv", "does not match"),  # macOS resource fork, not data
    ],
)
def test_keys_outside_the_contract_are_refused_with_the_reason(key, reason):
    with pytest.raises(LandingKeyError, match=reason):
        parse_landing_key(key)


def test_landing_key_round_trips():
    key = landing_key("part_usage", date(2024, 12, 31), "erp-export", "parquet")

    assert key == "part_usage/dt=2024-12-31/erp-export.parquet"
    assert parse_landing_key(key).source == "part_usage"
