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


def test_a_value_of_the_wrong_type_names_file_row_column_and_value():
    with pytest.raises(LandedFileError,
                       match=r"mem://f: data row 2, column quantity: value 'two' is not a finite"):
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


def _jsonl(lines: list[str], source: str):
    return conform(read_frame("\n".join(lines).encode(), "jsonl", "mem://j"), SOURCES[source],
                   "mem://j")


@pytest.mark.parametrize(
    ("csv_body", "message"),
    [
        ("P1,1e400,2025-01-05", r"data row 1, column quantity: value '1e400' is not a finite number"),
        ("P1,inf,2025-01-05", r"value 'inf' is not a finite number"),
        ("P1,-5,2025-01-05", r"value '-5' is out of range \(allowed: > 0\)"),
        ("P1,0,2025-01-05", r"value '0' is out of range \(allowed: > 0\)"),
        ("P1,1,2099-01-01", r"column used_at: value '2099-01-01' is in the future"),
        ("P1,1,1900-01-01", r"column used_at: value '1900-01-01' is before 1970"),
        ("P1,1,05/01/2025", r"value '05/01/2025' is not an ISO 8601 timestamp"),
        (",1,2025-01-05", r"column part_id: an empty value where a value is required"),
        ("P\x001,1,2025-01-05", r"column part_id: value 'P\\x001' contains a NUL byte"),
    ],
)
def test_bad_part_usage_values_are_refused_with_the_reason(csv_body, message):
    with pytest.raises(LandedFileError, match=message):
        _conform("part_id,quantity,used_at\n" + csv_body.replace("\\x00", "\x00") + "\n",
                 "part_usage")


def test_a_jsonl_file_of_empty_objects_lacks_the_required_columns():
    with pytest.raises(LandedFileError, match=r"mem://j: missing required column\(s\) part_id, "
                                              r"quantity, used_at; found no columns"):
        _jsonl(["{}", "{}"], "part_usage")


def test_a_jsonl_boolean_is_not_a_quantity_and_rows_count_from_one():
    with pytest.raises(LandedFileError, match=r"data row 2, column quantity: value True is not"):
        _jsonl(['{"part_id": "P1", "quantity": 1, "used_at": "2025-01-05"}',
                '{"part_id": "P1", "quantity": true, "used_at": "2025-01-05"}'], "part_usage")


def test_a_nested_object_is_not_text():
    with pytest.raises(LandedFileError, match=r"column part_id: value \{'a': 1\} is a nested object"):
        _jsonl(['{"part_id": {"a": 1}, "quantity": 1, "used_at": "2025-01-05"}'], "part_usage")


def test_integral_float_ids_from_parquet_keep_their_integer_spelling():
    frame = pd.DataFrame({"part_id": [1004.0, None], "quantity": [1.0, 2.0],
                          "used_at": pd.to_datetime(["2025-01-05", "2025-01-06"])})
    data = frame.to_parquet()

    typed, _ = conform(read_frame(data, "parquet", "mem://p").dropna(), SOURCES["part_usage"], "p")

    assert typed["part_id"].tolist() == ["1004"]


def test_an_empty_file_is_an_error_but_a_header_only_file_is_no_rows():
    with pytest.raises(LandedFileError, match=r"mem://f: the file is empty \(0 bytes\)"):
        read_frame(b"", "csv", "mem://f")

    frame, _ = _conform("part_id,quantity,used_at\n", "part_usage")
    assert len(frame) == 0


def test_a_column_named_twice_is_ambiguous():
    with pytest.raises(LandedFileError, match=r"column\(s\) quantity appear more than once"):
        read_frame(b"part_id,quantity,quantity\nP1,1,2\n", "csv", "mem://f")
    with pytest.raises(LandedFileError, match=r"column\(s\) part_id appear more than once"):
        read_frame(b"part_id, part_id,quantity\nP1,P2,2\n", "csv", "mem://f")


def test_an_infinite_sensor_reading_is_refused():
    with pytest.raises(LandedFileError, match=r"column volt: value '1e999' is not a finite number"):
        _conform("machine_id,measured_at,volt\n1,2015-01-01 06:00:00,1e999\n", "telemetry")
