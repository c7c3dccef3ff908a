"""Bad input, case by case: every file is written by the test, loaded into a real Postgres, and
the exact outcome is asserted: the rows loaded, the rows rejected with their line and reason,
or the exact error (and then nothing written)."""

from __future__ import annotations

import gzip
import io
from datetime import date, datetime, timezone
from itertools import count

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparecast_assets.ingest.load import duplicate_keys, load_window, unknown_parts
from sparecast_assets.landing.formats import LandedFileError
from sparecast_assets.landing.options import SourceOptions, SourceOptionsError, load_source_options
from sparecast_assets.landing.storage import LocalLanding

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
USAGE = "part_id,quantity,used_at\n"
# raw.telemetry's channel columns of a row as JSON, without the channels it has no reading of
CHANNELS = ("jsonb_strip_nulls(to_jsonb(telemetry) - array['machine_id', 'measured_at', "
            "'_partition_date', '_source_file', '_row_number', '_loaded_at'])::text")
_days = count()


@pytest.fixture(scope="module")
def database():
    import uuid

    from tests.conftest import SERVER_URL, _with_dbname

    name = f"sparecast_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield _with_dbname(SERVER_URL, name)
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


class Outcome:
    def __init__(self, loads, rows, rejected):
        self.loads, self.rows, self.rejected = loads, rows, rejected


def load(database, tmp_path, source: str, files: dict[str, bytes | str], columns: str = "",
         **options) -> Outcome:
    """Land ``files`` for a day of their own, load that day, and read back what it wrote:
    ``columns`` of raw.<source> in file and row order, and the rejected rows."""
    day = date(2025, 1, 1) + __import__("datetime").timedelta(days=next(_days))
    landing = LocalLanding(tmp_path / "landing")
    for name, data in files.items():
        landing.write_bytes(f"{source}/dt={day}/{name}", data.encode() if isinstance(data, str)
                            else data)
    with psycopg.connect(database) as conn:
        loads = load_window(conn, landing, source, day, day + __import__("datetime").timedelta(1),
                            SourceOptions(**options), NOW)
        rows = conn.execute(
            f"select {columns or 'count(*)'} from raw.{source} where _partition_date = %s"
            + (" order by _source_file, _row_number" if columns else ""), (day,)).fetchall()
        rejected = conn.execute(
            "select regexp_replace(uri, '.*/', ''), row_number, line_number, column_name, reason,"
            " raw_line from raw.rejected_rows where source = %s and partition_date = %s"
            " order by uri, row_number nulls last, line_number", (source, day)).fetchall()
    return Outcome(loads, rows, rejected)


def refused(database, tmp_path, source, files, **options) -> str:
    """Load a day whose previous content is one good row; the load must fail and leave it."""
    with pytest.raises(LandedFileError) as error:
        load(database, tmp_path, source, files, **options)
    return str(error.value).split(f"{source}/dt=", 1)[-1].split("/", 1)[-1]


# --- contract: columns, types, ranges ---------------------------------------------------------

def test_missing_required_column_refuses_the_file(database, tmp_path):
    assert refused(database, tmp_path, "part_usage", {"a.csv": "part_id,used_at\nP1,2025-01-05\n"}
                   ) == "a.csv: missing required column(s) quantity; found part_id, used_at"


def test_extra_column_is_not_loaded_and_is_named(database, tmp_path):
    out = load(database, tmp_path, "errors",
               {"a.csv": "machine_id,error_at,error_code,operator\nm1,2025-01-01,E1,ann\n"},
               "machine_id, error_code")
    assert out.rows == [("m1", "E1")]
    assert out.loads[0].ignored_columns == ("operator",)


def test_wrong_type_rejects_the_row_and_loads_the_others(database, tmp_path):
    out = load(database, tmp_path, "part_usage",
               {"a.csv": USAGE + "P1,1,2025-01-05\nP2,two,2025-01-05\nP3,3,2025-01-05\n"},
               "part_id, quantity")
    assert out.rows == [("P1", 1.0), ("P3", 3.0)]
    assert out.rejected == [("a.csv", 2, 3, "quantity", "quantity: 'two' is not a finite number",
                             "P2,two,2025-01-05")]
    assert (out.loads[0].rows, out.loads[0].rejected) == (2, 1)


@pytest.mark.parametrize(("quantity", "reason"), [
    ("-5", "quantity: '-5' is out of range (allowed: > 0 and <= 1,000,000)"),
    ("0", "quantity: '0' is out of range (allowed: > 0 and <= 1,000,000)"),
    ("5000000", "quantity: '5000000' is out of range (allowed: > 0 and <= 1,000,000)"),
    ("1e400", "quantity: '1e400' is not a finite number"),
    ("nan", "quantity: 'nan' is not a finite number"),
])
def test_negative_zero_huge_and_non_finite_quantities_are_rejected(database, tmp_path, quantity,
                                                                   reason):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + f"P1,{quantity},2025-01-05\n"})
    assert out.rows == [(0,)]
    assert [r[4] for r in out.rejected] == [reason]


def test_a_huge_but_plausible_stock_count_loads_exactly(database, tmp_path):
    out = load(database, tmp_path, "inventory",
               {"a.csv": "part_id,location_id,snapshot_at,on_hand\nP1,W1,2025-01-05,999999999\n"},
               "on_hand")
    assert out.rows == [(999999999.0,)]


def test_empty_required_value_is_rejected(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + "  ,1,2025-01-05\n"})
    assert [r[3:5] for r in out.rejected] == [("part_id", "part_id: a value is required")]


def test_every_problem_of_a_row_is_in_its_reason(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + ",-1,yesterday\n"})
    assert [r[3:5] for r in out.rejected] == [(
        "part_id", "part_id: a value is required; quantity: '-1' is out of range (allowed: > 0 "
        "and <= 1,000,000); used_at: 'yesterday' is not an ISO 8601 timestamp (e.g. 2025-01-31 "
        "14:05:00)")]


def test_a_value_outside_the_allowed_list_is_rejected(database, tmp_path):
    out = load(database, tmp_path, "parts",
               {"a.csv": "part_id,criticality\nP1,HIGH\nP2,urgent\nP3,\n"}, "part_id, criticality")
    assert out.rows == [("P1", "HIGH"), ("P3", None)]
    assert [r[4] for r in out.rejected] == ["criticality: 'urgent' is not one of high, medium, low"]


def test_unknown_part_loads_and_is_named_by_the_check(database, tmp_path):
    load(database, tmp_path, "parts", {"a.csv": "part_id\nP1\n"})
    out = load(database, tmp_path, "part_usage",
               {"a.csv": USAGE + "P1,1,2025-01-05\nP-999,2,2025-01-05\n"}, "part_id")
    day = out.loads[0].partition_date
    assert out.rows == [("P1",), ("P-999",)]
    with psycopg.connect(database) as conn:
        assert unknown_parts(conn, "part_usage", day, date(2026, 1, 1)) == ["P-999"]


# --- time ---------------------------------------------------------------------------------------

def test_future_and_pre_1970_timestamps_are_rejected(database, tmp_path):
    out = load(database, tmp_path, "part_usage",
               {"a.csv": USAGE + "P1,1,2026-06-01 23:00\nP2,1,2026-06-02 01:00\nP3,1,1969-12-31\n"},
               "part_id")
    assert out.rows == [("P1",)]  # within the day of slack for clock drift
    assert [r[4] for r in out.rejected] == ["used_at: '2026-06-02 01:00' is in the future",
                                            "used_at: '1969-12-31' is before 1970"]


def test_mixed_time_zones_in_one_column_all_become_utc(database, tmp_path):
    out = load(database, tmp_path, "errors", {"a.csv": (
        "machine_id,error_at,error_code\n"
        "m1,2025-01-05 06:00:00,E1\nm1,2025-01-05T07:00:00+01:00,E2\n"
        "m1,2025-01-05T06:00:00Z,E3\nm1,2025-01-05 01:00:00-0500,E4\n")},
        "error_code, to_char(error_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI')")
    assert out.rows == [("E1", "2025-01-05 06:00"), ("E2", "2025-01-05 06:00"),
                        ("E3", "2025-01-05 06:00"), ("E4", "2025-01-05 06:00")]


def test_naive_times_are_read_in_the_configured_zone_and_dst_edges_are_refused(database,
                                                                               tmp_path):
    out = load(database, tmp_path, "errors", {"a.csv": (
        "machine_id,error_at,error_code\n"
        "m1,2025-03-30 01:59:59,E1\n"   # before the spring gap: CET, UTC+1
        "m1,2025-03-30 02:30:00,E2\n"   # in the gap: never happened on a Berlin clock
        "m1,2025-03-30 03:00:00,E3\n"   # after it: CEST, UTC+2
        "m1,2025-10-26 02:30:00,E4\n"   # happened twice
        "m1,2025-10-26 02:30:00+01:00,E5\n")},  # the second time, said with an offset
        "error_code, to_char(error_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')",
        timezone="Europe/Berlin")
    assert out.rows == [("E1", "2025-03-30 00:59:59"), ("E3", "2025-03-30 01:00:00"),
                        ("E5", "2025-10-26 01:30:00")]
    assert [r[4] for r in out.rejected] == [
        "error_at: '2025-03-30 02:30:00' does not exist in Europe/Berlin (the clocks skipped "
        "that hour)",
        "error_at: '2025-10-26 02:30:00' happens twice in Europe/Berlin (the clocks went back); "
        "write it with a UTC offset"]


# --- duplicates ---------------------------------------------------------------------------------

def test_duplicate_rows_load_and_are_counted_by_the_key_check(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + "P-dup,1,2025-01-05\n" * 3})
    day = out.loads[0].partition_date
    assert out.rows == [(3,)]
    with psycopg.connect(database) as conn:
        surplus, keys = duplicate_keys(conn, "part_usage", day, day.replace(day=day.day + 1))
    assert (surplus, keys[0]["rows"], keys[0]["part_id"]) == (2, 3, "P-dup")


def test_duplicate_file_under_another_name_is_counted_as_duplicate_keys(database, tmp_path):
    body = USAGE + "P-re1,1,2025-01-05 10:00\nP-re2,4,2025-01-05 11:00\n"
    out = load(database, tmp_path, "part_usage", {"a.csv": body, "a-resent.csv": body})
    day = out.loads[0].partition_date
    assert [(f.uri.rsplit("/", 1)[1], f.rows) for f in out.loads] == [("a-resent.csv", 2),
                                                                       ("a.csv", 2)]
    with psycopg.connect(database) as conn:
        assert duplicate_keys(conn, "part_usage", day, day.replace(day=day.day + 1))[0] == 2


# --- files that cannot be read --------------------------------------------------------------------

def test_empty_file_is_refused(database, tmp_path):
    assert refused(database, tmp_path, "part_usage", {"a.csv": b""}) == (
        "a.csv: the file is empty (0 bytes), which is what a failed upload leaves; land a file "
        "with at least a header row to say 'no rows for this day'")


def test_header_only_file_loads_nothing_and_is_recorded(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE})
    assert (out.rows, out.rejected, out.loads[0].rows) == ([(0,)], [], 0)


def test_truncated_gzip_is_refused_and_the_day_keeps_its_old_content(database, tmp_path):
    whole = gzip.compress((USAGE + "P1,1,2025-01-05\n" * 5000).encode())
    assert refused(database, tmp_path, "part_usage", {"a.csv.gz": whole[: len(whole) // 2]}
                   ).startswith("a.csv.gz: cannot be read as csv.gz: ")


def test_binary_junk_named_parquet_is_refused(database, tmp_path):
    assert refused(database, tmp_path, "part_usage", {"a.parquet": b"\x00\x01junk" * 20}) == (
        "a.parquet: cannot be read as parquet: Parquet magic bytes not found in footer. Either "
        "the file is corrupted or this is not a parquet file.")


def test_wrong_encoding_is_refused_with_the_first_bad_line(database, tmp_path):
    latin1 = (USAGE + "P1,1,2025-01-05\nP-Müller,1,2025-01-05\n").encode("latin-1")
    assert refused(database, tmp_path, "part_usage", {"a.csv": latin1}) == (
        "a.csv: is not utf-8 text (first at line 3, byte 44); if the source writes another "
        "encoding, set 'encoding' for this source in the sources file")


def test_a_configured_encoding_reads_the_same_file(database, tmp_path):
    latin1 = (USAGE + "P-Müller,1,2025-01-05\n").encode("latin-1")
    out = load(database, tmp_path, "part_usage", {"a.csv": latin1}, "part_id", encoding="latin-1")
    assert out.rows == [("P-Müller",)]


def test_duplicate_header_columns_are_refused(database, tmp_path):
    assert refused(database, tmp_path, "part_usage",
                   {"a.csv": "part_id,quantity, quantity,used_at\nP1,1,2,2025-01-05\n"}) == (
        "a.csv: column(s) quantity appear more than once in the header")


# --- CSV dialects -------------------------------------------------------------------------------

def test_semicolons_and_decimal_commas_as_configured(database, tmp_path):
    out = load(database, tmp_path, "part_usage",
               {"a.csv": "part_id;quantity;used_at\nP1;1,5;2025-01-05\nP2;2;2025-01-05\n"},
               "part_id, quantity", decimal=",")
    assert out.rows == [("P1", 1.5), ("P2", 2.0)]


def test_tabs_a_bom_and_crlf_line_ends(database, tmp_path):
    data = "\ufeffpart_id\tquantity\tused_at\r\nP1\t2\t2025-01-05\r\n".encode()
    out = load(database, tmp_path, "part_usage", {"a.csv": data}, "part_id, quantity")
    assert out.rows == [("P1", 2.0)]


def test_quoted_newlines_blank_lines_and_a_malformed_row_keep_exact_line_numbers(database,
                                                                                  tmp_path):
    out = load(database, tmp_path, "failures", {"a.csv": (
        "machine_id,failed_at,part_id,failure_mode\n"    # line 1
        'm1,2025-01-05,P1,"bearing\nseized"\n'            # lines 2-3
        "\n"                                              # line 4, blank
        "m2,2025-01-05,P1,x,surplus\n"                    # line 5, five fields
        "m3,not-a-date,P2,\n"                             # line 6
        "m4,2025-01-05,P2,ok\n")},                        # line 7
        "machine_id, failure_mode, _row_number")
    assert out.rows == [("m1", "bearing\nseized", 1), ("m4", "ok", 4)]
    assert out.rejected == [
        ("a.csv", 2, 5, None, "the row has 5 field(s); the header has 4",
         "m2,2025-01-05,P1,x,surplus"),
        ("a.csv", 3, 6, "failed_at",
         "failed_at: 'not-a-date' is not an ISO 8601 timestamp (e.g. 2025-01-31 14:05:00)",
         "m3,not-a-date,P2,")]


def test_column_aliases_map_a_users_names_to_the_contract(database, tmp_path):
    out = load(database, tmp_path, "part_usage",
               {"a.csv": "Material;Menge;Datum\n4711;2;2025-01-05 08:00\n"},
               "part_id, quantity", aliases={"Material": "part_id", "Menge": "quantity",
                                             "Datum": "used_at"})
    assert out.rows == [("4711", 2.0)]


# --- JSON lines and Parquet ---------------------------------------------------------------------

def test_json_lines_with_a_broken_line_a_nested_value_and_a_boolean(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.jsonl": (
        '{"part_id": "P1", "quantity": 2, "used_at": "2025-01-05"}\n'
        '{"part_id": "P2", "quantity": 2, "used_at": \n'
        '\n'
        '{"part_id": {"id": "P3"}, "quantity": 1, "used_at": "2025-01-05"}\n'
        '{"part_id": "P4", "quantity": true, "used_at": "2025-01-05"}\n'
        '["P5", 1, "2025-01-05"]\n')}, "part_id, quantity")
    assert out.rows == [("P1", 2.0)]
    assert [r[1:5] for r in out.rejected] == [
        (2, 2, None, "not a JSON object: Expecting value at column 45"),
        (3, 4, "part_id", "part_id: is a nested value (object or list), not text"),
        (4, 5, "quantity", "quantity: 'true' is not a finite number"),
        (5, 6, None, "not a JSON object but a list")]


def test_gzipped_json_lines_load(database, tmp_path):
    data = gzip.compress(b'{"part_id": "P1", "quantity": 3, "used_at": "2025-01-05"}\n')
    out = load(database, tmp_path, "part_usage", {"a.jsonl.gz": data}, "part_id, quantity")
    assert out.rows == [("P1", 3.0)]


def test_parquet_native_types_load_and_a_null_id_is_rejected(database, tmp_path):
    table = pa.table({"part_id": ["P1", None], "quantity": [2.0, 1.0], "machine_id": [1004.0, 7.0],
                      "used_at": pa.array([datetime(2025, 1, 5, 8), datetime(2025, 1, 5, 9)],
                                          pa.timestamp("ms"))})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    out = load(database, tmp_path, "part_usage", {"a.parquet": buffer.getvalue()},
               "part_id, quantity, to_char(used_at at time zone 'UTC', 'HH24:MI'), machine_id")
    # a float column of ids (how pandas writes integers with gaps) gives the id "1004"
    assert out.rows == [("P1", 2.0, "08:00", "1004")]
    assert [r[1:5] for r in out.rejected] == [(2, None, "part_id", "part_id: a value is required")]


# --- hostile content ----------------------------------------------------------------------------

def test_nul_bytes_are_rejected_and_shown(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + "P\x001,1,2025-01-05\n"})
    assert [r[4:] for r in out.rejected] == [("part_id: contains a NUL byte",
                                              "P\u24001,1,2025-01-05")]


def test_injection_strings_in_values_names_and_columns_are_stored_as_data(database, tmp_path):
    nasty = "'); DROP TABLE raw.telemetry; --"
    out = load(database, tmp_path, "telemetry", {
        "x'); drop table raw.telemetry; --.csv": (
            f'machine_id,measured_at,"{nasty}"\n"{nasty}",2025-01-05,1.5\n')},
        f"machine_id, {CHANNELS}, regexp_replace(_source_file, '.*/', '')")
    assert out.rows == [(nasty, '{"\'); DROP TABLE raw.telemetry; --": 1.5}',
                         "x'); drop table raw.telemetry; --.csv")]


# --- the sources file ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("sources:\n  spares: {}\n", "unknown source(s) spares"),
    ("sources:\n  part_usage: {decimal: ',', delimiter: ','}\n",
     "decimal ',' needs another delimiter"),
    ("sources:\n  part_usage: {aliases: {Menge: qty}}\n",
     "aliases of part_usage name column(s) qty, which the contract does not have"),
    ("defaults: {timezone: Mars/Olympus}\n", "unknown time zone 'Mars/Olympus'"),
    ("defaults: {max_rejected_share: 2}\n", "less than or equal to 1"),
])
def test_a_wrong_sources_file_is_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(SourceOptionsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_source_options(path)


def test_a_sources_file_overlays_defaults_per_source(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("defaults: {timezone: Europe/Berlin}\n"
                    "sources:\n  part_usage: {delimiter: ';', timezone: UTC}\n")
    options = load_source_options(path)
    assert (options["part_usage"].delimiter, options["part_usage"].timezone,
            options["errors"].timezone) == (";", "UTC", "Europe/Berlin")


# --- found by trying to break it -------------------------------------------------------------

def test_a_telemetry_row_without_a_reading_loads_and_a_bad_reading_is_rejected(database,
                                                                                 tmp_path):
    out = load(database, tmp_path, "telemetry", {"a.csv": (
        "machine_id,measured_at,volt,rotate\nM1,2025-01-05,1,\nM2,2025-01-05,,\n"
        "M3,2025-01-05,abc,2\n")}, f"machine_id, {CHANNELS}")
    assert out.rows == [("M1", '{"volt": 1}'), ("M2", "{}")]
    assert [r[4] for r in out.rejected] == ["volt: 'abc' is not a finite number"]


def test_an_unclosed_quote_cannot_hide_the_rows_it_swallows(database, tmp_path):
    rows = [f"P{i},1,2025-01-05" for i in range(1, 101)]
    rows[9] = '"' + rows[9]  # opened on row 10, never closed: rows 10..100 become one cell
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE + "\n".join(rows) + "\n"})
    load_ = out.loads[0]
    assert (load_.rows, load_.rejected, load_.rejected_lines) == (9, 1, 91)
    assert round(load_.rejected_share, 2) == 0.91  # far over the 5 % that stops the load
    assert out.rejected[0][1:4] == (10, 11, None)


def test_a_quote_closed_rows_later_makes_an_id_with_line_breaks_which_is_rejected(database,
                                                                                   tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": (
        USAGE + '"P1,1,2025-01-05\nP2",1,2025-01-05\nP3,1,2025-01-05\n')}, "part_id")
    assert out.rows == [("P3",)]
    assert [r[1:5] for r in out.rejected] == [
        (1, 2, "part_id", "part_id: contains a line break (is a quote left open?)")]
    assert out.loads[0].rejected_lines == 2


def test_an_alias_colliding_with_a_real_column_is_refused(database, tmp_path):
    assert refused(database, tmp_path, "errors", {
        "a.csv": "machine_id,error_at,error_code,mid\nM1,2025-01-05,E,M9\n"},
        aliases={"mid": "machine_id"}) == (
        "a.csv: after the source's aliases, column(s) machine_id appear more than once "
        "(header: machine_id, error_at, error_code, mid)")


def test_a_header_without_a_line_end_is_a_day_without_rows(database, tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.csv": USAGE.rstrip("\n")})
    assert (out.rows, out.loads[0].rows) == ([(0,)], 0)


def test_carriage_return_line_ends_load(database, tmp_path):
    out = load(database, tmp_path, "part_usage",
               {"a.csv": "part_id,quantity,used_at\rP1,1,2025-01-05\rP2,2,2025-01-05\r"},
               "part_id")
    assert out.rows == [("P1",), ("P2",)]


def test_json_keys_given_twice_reject_the_line_and_numbers_keep_their_digits(database,
                                                                             tmp_path):
    out = load(database, tmp_path, "part_usage", {"a.jsonl": (
        '{"part_id": 12345678901234567890, "quantity": 1, "used_at": "2025-01-05"}\n'
        '{"part_id": "P1", "quantity": 1, "used_at": "2025-01-05", " quantity": 5}\n'
        '{"part_id": "P2", "quantity": 1e400, "used_at": "2025-01-05"}\n')}, "part_id")
    assert out.rows == [("12345678901234567890",)]
    assert [r[4] for r in out.rejected] == ["key 'quantity' appears more than once",
                                            "quantity: '1e400' is not a finite number"]


def test_decimal_commas_read_dots_as_thousands(database, tmp_path):
    out = load(database, tmp_path, "inventory", {"a.csv": (
        "part_id;location_id;snapshot_at;on_hand\nP1;W1;2025-01-05;1.234\n"
        "P2;W1;2025-01-05;1.234,5\n")}, "on_hand", decimal=",")
    assert out.rows == [(1234.0,), (1234.5,)]


def test_an_offset_in_basic_format_is_kept_next_to_a_bad_value(database, tmp_path):
    out = load(database, tmp_path, "errors", {"a.csv": (
        "machine_id,error_at,error_code\nM0,2025-01-05T06+01:00,E\nM1,bad,E\n"
        "M2,20250105T060000Z,E\nM3,2025-01-05 06:00,E\n")},
        "machine_id, to_char(error_at at time zone 'UTC', 'HH24:MI')", timezone="Europe/Berlin")
    assert out.rows == [("M0", "05:00"), ("M2", "06:00"), ("M3", "05:00")]


def test_utf16_is_refused_in_the_sources_file(tmp_path):
    with pytest.raises(ValueError, match="encoding 'utf-16' is not ASCII-compatible"):
        SourceOptions(encoding="utf-16")


def test_a_channel_first_seen_halfway_through_json_lines_gets_its_column(database, tmp_path,
                                                                         monkeypatch):
    import sparecast_assets.landing.formats as formats

    monkeypatch.setattr(formats, "JSON_LINES_PER_BATCH", 2)
    out = load(database, tmp_path, "telemetry", {"a.jsonl": (
        '{"machine_id": "M1", "measured_at": "2025-01-05", "volt": 1}\n'
        '{"machine_id": "M2", "measured_at": "2025-01-05", "volt": 2}\n'
        '{"machine_id": "M3", "measured_at": "2025-01-05", "late_channel": 3}\n')},
        f"machine_id, {CHANNELS}")
    assert out.rows == [("M1", '{"volt": 1}'), ("M2", '{"volt": 2}'),
                        ("M3", '{"late_channel": 3}')]


def test_a_channel_named_like_a_lineage_column_is_refused(database, tmp_path):
    assert refused(database, tmp_path, "telemetry", {
        "a.csv": "machine_id,measured_at,_row_number\nM1,2025-01-05,7\n"}) == (
        "a.csv: column '_row_number' cannot be a sensor channel: the name is reserved for "
        "lineage")


def test_telemetry_kept_in_the_old_jsonb_map_moves_into_channel_columns(fresh_database,
                                                                        tmp_path):
    with psycopg.connect(fresh_database) as conn:
        conn.execute("create schema raw; create table raw.telemetry (machine_id text not null,"
                     " measured_at timestamptz not null, readings jsonb not null,"
                     " _partition_date date not null, _source_file text not null,"
                     " _row_number bigint not null, _loaded_at timestamptz default now())")
        conn.execute("insert into raw.telemetry values ('M1', '2024-01-01', "
                     "'{\"volt\": 1.5, \"rotate\": 3}', '2024-01-01', 'f', 1)")
    out = load(fresh_database, tmp_path, "telemetry",
               {"a.csv": "machine_id,measured_at,volt\nM2,2025-01-05,2\n"})
    assert out.rows == [(1,)]
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("select machine_id, volt, rotate from raw.telemetry order by 1"
                            ).fetchall() == [("M1", 1.5, 3.0), ("M2", 2.0, None)]
