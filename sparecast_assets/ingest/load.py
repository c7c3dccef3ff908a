"""Load a window of landed days into ``raw.<source>``, replacing what the window held before.

A load is one transaction: delete the window's rows, then COPY every file of every day in it,
and record each file (key, ETag, rows) in the ledger ``raw.landed_files``. A file that fails to
parse or breaks the contract rolls the whole window back, so a partition is always either its
old content or its complete new content, and the ledger always names exactly the file versions
whose rows are in the raw tables. The landing sensor reads the ledger to tell new or changed
files from ones already loaded.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import pandas as pd
import psycopg
from psycopg import sql

from sparecast_assets.db import lock_ddl
from sparecast_assets.landing.contract import COLUMN_TYPES, SOURCES, Source
from sparecast_assets.landing.formats import (
    FILE, ROW, check_required_columns, conform, read_frame)
from sparecast_assets.landing.storage import Landing, files_for_window

# Lineage columns on every raw row: which file and partition it came from.
LINEAGE_COLUMNS = (
    ("_partition_date", "date not null"),
    (FILE, "text not null"),
    (ROW, "bigint not null"),
    ("_loaded_at", "timestamptz not null default now()"),
)

# Small files are validated and copied together: per-file overhead dominates a day's file of
# a few dozen rows. Rows are held in memory up to this many before they are sent.
BATCH_ROWS = 200_000


def raw_columns(source: Source) -> list[tuple[str, str]]:
    columns = [(c.name, COLUMN_TYPES[c.kind] + (" not null" if c.required else ""))
               for c in source.columns]
    if source.channel_columns:
        columns.append(("readings", "jsonb not null"))
    return columns


def ensure_raw_table(conn: psycopg.Connection, source: Source) -> None:
    definition = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(pg_type))
        for name, pg_type in raw_columns(source) + list(LINEAGE_COLUMNS)
    ]
    table = sql.Identifier("raw", source.name)
    with conn.cursor() as cur:
        lock_ddl(conn)
        cur.execute("create schema if not exists raw")
        cur.execute(sql.SQL("create table if not exists {} ({})").format(
            table, sql.SQL(", ").join(definition)))
        cur.execute(sql.SQL("create index if not exists {} on {} (_partition_date)").format(
            sql.Identifier(f"{source.name}_partition_date_idx"), table))


LEDGER_DDL = """
create table if not exists raw.landed_files (
    uri text primary key,
    source text not null,
    relative_key text not null,
    etag text not null,
    size_bytes bigint not null,
    last_modified timestamptz not null,
    partition_date date not null,
    rows bigint not null,
    loaded_at timestamptz not null default now()
);
create index if not exists landed_files_source_day_idx on raw.landed_files (source, partition_date);
"""


def ensure_ledger(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        lock_ddl(conn)
        cur.execute("create schema if not exists raw")
        cur.execute(LEDGER_DDL)


def loaded_versions(conn: psycopg.Connection, prefix: str) -> dict[str, str]:
    """uri -> ETag of every loaded file whose URI starts with ``prefix`` (a landing zone)."""
    ensure_ledger(conn)
    rows = conn.execute("select uri, etag from raw.landed_files where starts_with(uri, %s)",
                        (prefix,))
    return dict(rows.fetchall())


@dataclass(frozen=True)
class FileLoad:
    uri: str
    partition_date: date
    rows: int
    ignored_columns: tuple[str, ...]


class _CopyBatch:
    """Rows of several files, validated together and sent with one COPY."""

    def __init__(self, cur: psycopg.Cursor, source: Source):
        self.cur, self.source = cur, source
        self.frames: list[pd.DataFrame] = []
        self.rows = 0
        self.columns = [name for name, _ in raw_columns(source)] + ["_partition_date", FILE, ROW]
        self.copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
            sql.Identifier("raw", source.name),
            sql.SQL(", ").join(sql.Identifier(c) for c in self.columns))

    def add(self, frame: pd.DataFrame) -> None:
        self.frames.append(frame)
        self.rows += len(frame)
        if self.rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            self.frames = []
            return
        frame = pd.concat(self.frames, ignore_index=True)
        typed, _ = conform(frame.drop(columns="_partition_date"), self.source)
        typed["_partition_date"] = frame["_partition_date"]
        buffer = io.StringIO()
        # CRLF line ends make the csv writer quote any field holding a lone CR or LF.
        typed[self.columns].to_csv(buffer, header=False, index=False, lineterminator="\r\n",
                                   quoting=csv.QUOTE_MINIMAL)
        with self.cur.copy(self.copy_sql) as copy:
            copy.write(buffer.getvalue())
        self.frames, self.rows = [], 0


def load_window(
    conn: psycopg.Connection, landing: Landing, source_name: str, start: date, end: date
) -> list[FileLoad]:
    """Replace the rows of days [start, end) in raw.<source> with the landed files' rows."""
    source = SOURCES[source_name]
    files = files_for_window(landing, source_name, start, end)
    declared = {c.name for c in source.columns}
    loads, ledger = [], []
    # Tables first, in a transaction of their own: the DDL lock is held only for that.
    with conn.transaction():
        ensure_raw_table(conn, source)
        ensure_ledger(conn)
    with conn.transaction():
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("delete from {} where _partition_date >= %s and _partition_date < %s")
                .format(sql.Identifier("raw", source.name)),
                (start, end),
            )
            batch = _CopyBatch(cur, source)
            for landed in files:
                frame = read_frame(landing.read_bytes(landed.key.relative_key), landed.key.format,
                                   landed.uri)
                ignored = () if source.channel_columns else tuple(
                    c for c in frame.columns if c not in declared)
                # Checked per file, so the error names the file that lacks the column.
                check_required_columns(frame, source, landed.uri)
                batch.add(frame.drop(columns=list(ignored)).assign(**{
                    "_partition_date": landed.key.partition_date.isoformat(),
                    FILE: landed.uri,
                    ROW: range(1, len(frame) + 1),
                }))
                loads.append(FileLoad(landed.uri, landed.key.partition_date, len(frame), ignored))
                ledger.append((landed.uri, source_name, landed.key.relative_key, landed.etag,
                               landed.size, landed.last_modified, landed.key.partition_date,
                               len(frame)))
            batch.flush()
            cur.execute("delete from raw.landed_files where source = %s and partition_date >= %s"
                        " and partition_date < %s", (source_name, start, end))
            cur.executemany(
                "insert into raw.landed_files (uri, source, relative_key, etag, size_bytes,"
                " last_modified, partition_date, rows) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                ledger)
    return loads


def count_window_rows(conn: psycopg.Connection, source_name: str, start: date, end: date) -> int:
    """Rows of raw.<source> whose partition is in [start, end)."""
    query = sql.SQL("select count(*) from {} where _partition_date >= %s and _partition_date < %s")
    return conn.execute(query.format(sql.Identifier("raw", source_name)), (start, end)).fetchone()[0]


def duplicate_keys(conn: psycopg.Connection, source_name: str, start: date, end: date,
                   sample: int = 5) -> tuple[int, list[dict]]:
    """Rows of days [start, end) whose key (the contract's ``Source.key``) appears more than
    once in raw.<source> (within one ``dt`` for master data): (surplus rows, a few of the keys
    with their counts). Equal keys in other days count, so a late file repeating an old day's
    events is caught too."""
    source = SOURCES[source_name]
    key = [sql.Identifier(c) for c in source.key]
    if source.master_data:
        key.insert(0, sql.Identifier("_partition_date"))
    key_list = sql.SQL(", ").join(key)
    query = sql.SQL(
        "select {keys}, count(*) as n from {table} group by {keys} having count(*) > 1"
        " and bool_or(_partition_date >= %(start)s and _partition_date < %(end)s)"
        " order by n desc, {keys}"
    ).format(keys=key_list, table=sql.Identifier("raw", source_name))
    rows = conn.execute(query, {"start": start, "end": end}).fetchall()
    names = ["_partition_date", *source.key] if source.master_data else list(source.key)
    samples = [{**{n: (None if v is None else str(v)) for n, v in zip(names, r[:-1])},
                "rows": r[-1]} for r in rows[:sample]]
    return sum(r[-1] - 1 for r in rows), samples
