import gzip
import json

import pandas as pd
import pytest

from sparecast_assets.landing.contract import SOURCES
from sparecast_assets.landing.formats import LandedFileError, conform, read_frame


def _conform(text: str, source: str, fmt: str = "csv"):
    data = gzip.compress(text.encode()) if fmt == "csv.gz" else text.encode()
    return conform(read_frame(data, fmt, "mem://f"), SOURCES[source], "mem://f")


def test_part_usage_is_typed_and_naive_times_are_utc():
    frame, ignored = _conform(
        "part_id,quantity,used_at,machine_id\nP1,2,2015-01-05 06:00:00,7\nP2,1.5,2015-01-05T07:30:00Z,\n",
        "part_usage")

    assert frame["quantity"].tolist() == [2.0, 1.5]
    assert frame["used_at"].tolist() == [pd.Timestamp("2015-01-05 06:00", tz="UTC"),
                                         pd.Timestamp("2015-01-05 07:30", tz="UTC")]
    assert frame["machine_id"].tolist()[0] == "7"
    assert pd.isna(frame["machine_id"].tolist()[1])
    assert ignored == []


def test_gzip_csv_reads_like_plain_csv():
    frame, _ = _conform("machine_id,error_at,error_code\n1,2015-01-01 06:00:00,error1\n",
                        "errors", "csv.gz")

    assert frame["error_code"].tolist() == ["error1"]


def test_a_missing_required_column_names_the_file_and_the_column():
    with pytest.raises(LandedFileError, match=r"mem://f: missing required column\(s\) quantity"):
        _conform("part_id,used_at\nP1,2015-01-05 06:00:00\n", "part_usage")


def test_a_value_of_the_wrong_type_names_line_column_and_value():
    with pytest.raises(LandedFileError,
                       match=r"mem://f: line 3, column quantity: value 'two' is not a number"):
        _conform("part_id,quantity,used_at\nP1,1,2015-01-05\nP1,two,2015-01-06\n", "part_usage")


def test_telemetry_keeps_every_numeric_channel_whatever_its_name():
    frame, _ = _conform(
        "machine_id,measured_at,volt,oil_temp_c\n1,2015-01-01 06:00:00,176.2,80\n"
        "1,2015-01-01 07:00:00,,81.5\n", "telemetry")

    assert [json.loads(r) for r in frame["readings"]] == [
        {"volt": 176.2, "oil_temp_c": 80.0}, {"oil_temp_c": 81.5}]


def test_columns_outside_the_contract_are_reported_not_loaded():
    _, ignored = _conform("machine_id,error_at,error_code,operator\n1,2015-01-01,e1,ann\n", "errors")

    assert ignored == ["operator"]


def test_an_unreadable_file_fails_with_the_file_name():
    with pytest.raises(LandedFileError, match="mem://f: cannot be read as csv.gz"):
        read_frame(b"not gzip at all", "csv.gz", "mem://f")
