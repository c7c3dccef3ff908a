"""Raw loads against a real Postgres: a window is replaced whole, or not at all."""

from datetime import date

import psycopg
import pytest

from sparecast_assets.ingest.load import load_window
from sparecast_assets.landing.formats import LandedFileError
from sparecast_assets.landing.storage import LocalLanding

HEADER = "part_id,quantity,used_at,machine_id,reason\n"


def _count(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select _partition_date::text, count(*), sum(quantity) from raw.part_usage "
            "group by 1 order by 1").fetchall()


def _load(url, landing, start, end):
    with psycopg.connect(url) as conn:
        return load_window(conn, landing, "part_usage", start, end)


def test_a_window_load_replaces_exactly_its_days(fresh_database, tmp_path):
    landing = LocalLanding(tmp_path)
    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (HEADER + "P1,1,2025-01-01,1,failure\n").encode())
    landing.write_bytes("part_usage/dt=2025-01-02/a.csv", (HEADER + "P1,2,2025-01-02,1,\n").encode())
    landing.write_bytes("part_usage/dt=2025-01-02/b.csv", (HEADER + "P2,5,2025-01-02,2,\n").encode())

    loads = _load(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 3))
    assert [(f.uri.rsplit("/", 2)[-2:], f.rows) for f in loads] == [
        (["dt=2025-01-01", "a.csv"], 1), (["dt=2025-01-02", "a.csv"], 1),
        (["dt=2025-01-02", "b.csv"], 1)]

    # Day 2 is corrected upstream; reloading only day 2 leaves day 1 alone.
    landing.write_bytes("part_usage/dt=2025-01-02/b.csv", (HEADER + "P2,4,2025-01-02,2,\n").encode())
    _load(fresh_database, landing, date(2025, 1, 2), date(2025, 1, 3))
    _load(fresh_database, landing, date(2025, 1, 2), date(2025, 1, 3))
    assert _count(fresh_database) == [("2025-01-01", 1, 1.0), ("2025-01-02", 2, 6.0)]


def test_a_bad_file_rolls_back_the_whole_window(fresh_database, tmp_path):
    landing = LocalLanding(tmp_path)
    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (HEADER + "P1,1,2025-01-01,1,\n").encode())
    _load(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 2))

    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (HEADER + "P1,3,2025-01-01,1,\n").encode())
    landing.write_bytes("part_usage/dt=2025-01-01/z.csv", b"part_id,used_at\nP1,2025-01-01\n")
    with pytest.raises(LandedFileError, match=r"z\.csv: missing required column\(s\) quantity"):
        _load(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 2))

    assert _count(fresh_database) == [("2025-01-01", 1, 1.0)]  # the old content, untouched


def test_a_source_with_no_files_still_gets_its_empty_table(fresh_database, tmp_path):
    assert _load(fresh_database, LocalLanding(tmp_path), date(2025, 1, 1), date(2025, 2, 1)) == []
    assert _count(fresh_database) == []


def test_text_with_carriage_returns_quotes_and_sql_is_stored_as_it_was(fresh_database, tmp_path):
    landing = LocalLanding(tmp_path)
    nasty = "'); DROP TABLE raw.part_usage; --"
    landing.write_bytes("part_usage/dt=2025-01-01/a.csv", (
        HEADER + 'P1,1,2025-01-01,1,"line one\rline two"\n' + f'P2,1,2025-01-01,1,"{nasty}"\n'
        + 'P3,1,2025-01-01,1,"say ""hi"", twice"\n').encode())

    _load(fresh_database, landing, date(2025, 1, 1), date(2025, 1, 2))

    with psycopg.connect(fresh_database) as conn:
        reasons = [r[0] for r in conn.execute("select reason from raw.part_usage order by part_id")]
    assert reasons == ["line one\rline two", nasty, 'say "hi", twice']
