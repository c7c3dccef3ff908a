"""Load a window of landed days into ``raw.<source>``, replacing what the window held before.

A load is one transaction: delete the window's rows, then COPY every file of every day in it.
A file that fails to parse or breaks the contract rolls the whole window back, so a partition
is always either its old content or its complete new content.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from sparecast_assets.landing.contract import COLUMN_TYPES, SOURCES, Source
from sparecast_assets.landing.formats import conform, read_frame
from sparecast_assets.landing.storage import Landing, LandedFile, files_for

# Lineage columns on every raw row: which file and partition it came from.
LINEAGE_COLUMNS = (
    ("_partition_date", "date not null"),
    ("_source_file", "text not null"),
    ("_row_number", "bigint not null"),
    ("_loaded_at", "timestamptz not null default now()"),
)


def raw_columns(source: Source) -> list[tuple[str, str]]:
    columns = [(c.name, COLUMN_TYPES[c.kind]) for c in source.columns]
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
        cur.execute("create schema if not exists raw")
        cur.execute(sql.SQL("create table if not exists {} ({})").format(
            table, sql.SQL(", ").join(definition)))
        cur.execute(sql.SQL("create index if not exists {} on {} (_partition_date)").format(
            sql.Identifier(f"{source.name}_partition_date_idx"), table))


@dataclass(frozen=True)
class FileLoad:
    uri: str
    partition_date: date
    rows: int
    ignored_columns: tuple[str, ...]


def days(start: date, end: date) -> list[date]:
    """The days of the half-open window [start, end)."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def load_window(
    conn: psycopg.Connection, landing: Landing, source_name: str, start: date, end: date
) -> list[FileLoad]:
    """Replace the rows of days [start, end) in raw.<source> with the landed files' rows."""
    source = SOURCES[source_name]
    files: list[LandedFile] = [f for day in days(start, end) for f in files_for(landing, source_name, day)]
    loads = []
    table = sql.Identifier("raw", source.name)
    columns = [name for name, _ in raw_columns(source)] + ["_partition_date", "_source_file", "_row_number"]
    copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns))

    with conn.transaction():
        ensure_raw_table(conn, source)
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("delete from {} where _partition_date >= %s and _partition_date < %s").format(table),
                (start, end),
            )
            for landed in files:
                frame = read_frame(landing.read_bytes(landed.key.relative_key), landed.key.format, landed.uri)
                typed, ignored = conform(frame, source, landed.uri)
                typed["_partition_date"] = landed.key.partition_date.isoformat()
                typed["_source_file"] = landed.uri
                typed["_row_number"] = range(1, len(typed) + 1)
                if len(typed):
                    buffer = io.StringIO()
                    typed[columns].to_csv(buffer, header=False, index=False)
                    with cur.copy(copy_sql) as copy:
                        copy.write(buffer.getvalue())
                loads.append(FileLoad(landed.uri, landed.key.partition_date, len(typed), tuple(ignored)))
    return loads
