"""Load a window of landed days into ``raw.<source>``, replacing what the window held before.

A load is one transaction: delete the window's rows and rejected rows, stream every file of
every day in it through the contract into one COPY, keep the rows that break the contract in
``raw.rejected_rows`` with their reason, and record each file (key, ETag, rows) in the ledger
``raw.landed_files``. A file that cannot be read at all rolls the whole window back, and so
does a dropped connection, so a partition is always either its old content or its complete new
content, and the ledger always names exactly the file versions whose rows are in the raw
tables. The landing sensor reads the ledger to tell new or changed files from loaded ones.
"""

from __future__ import annotations

import csv
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timezone

import psycopg
import pyarrow as pa
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from sparecast_assets.db import lock_ddl
from sparecast_assets.landing.contract import COLUMN_TYPES, SOURCES, Source
from sparecast_assets.landing.formats import LandedFileError, Rejected, read_batches
from sparecast_assets.landing.options import SourceOptions, load_source_options
from sparecast_assets.landing.storage import Landing, files_for_window
from sparecast_assets.landing.validate import conform

FILE = "_source_file"
ROW = "_row_number"

# Lineage columns on every raw row: which file and partition it came from.
LINEAGE_COLUMNS = (
    ("_partition_date", "date not null"),
    (FILE, "text not null"),
    (ROW, "bigint not null"),
    ("_loaded_at", "timestamptz not null default now()"),
)

REJECTED_DDL = """
create table if not exists raw.rejected_rows (
    source text not null,
    uri text not null,
    partition_date date not null,
    row_number bigint,
    line_number bigint,
    column_name text,
    reason text not null,
    raw_line text not null,
    rejected_at timestamptz not null default now()
);
create index if not exists rejected_rows_source_day_idx
    on raw.rejected_rows (source, partition_date);
"""
REJECTED_COLUMNS = ("source", "uri", "partition_date", "row_number", "line_number",
                    "column_name", "reason", "raw_line")


def raw_columns(source: Source) -> list[tuple[str, str]]:
    """The contract's columns; telemetry's channels are added as they first land."""
    return [(c.name, COLUMN_TYPES[c.kind] + (" not null" if c.required else ""))
            for c in source.columns]


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
        # A file's COPY leaves out its lineage, which is the same on every row: the defaults
        # read it from settings of the loading transaction, so it is not sent per row.
        cur.execute(sql.SQL(
            "alter table {} alter column _source_file set default "
            "current_setting('sparecast.source_file'), alter column _partition_date set "
            "default current_setting('sparecast.partition_date')::date").format(table))
        # BRIN, not B-tree: days land roughly in order, and a BRIN index costs a bulk load
        # almost nothing while still letting a reload find its days' blocks.
        cur.execute(sql.SQL("create index if not exists {} on {} using brin (_partition_date)")
                    .format(sql.Identifier(f"{source.name}_partition_date_brin"), table))
        cur.execute(sql.SQL("drop index if exists {}").format(
            sql.Identifier("raw", f"{source.name}_partition_date_idx")))
        if source.channel_columns:
            _unpack_readings(cur, source)


def _unpack_readings(cur: psycopg.Cursor, source: Source) -> None:
    """Databases from before channel columns kept telemetry channels in a jsonb ``readings``
    map: move each channel into a column of its own, once."""
    has_map = cur.execute(
        "select exists (select from information_schema.columns where table_schema = 'raw' "
        "and table_name = %s and column_name = 'readings')", (source.name,)).fetchone()[0]
    if not has_map:
        return
    table = sql.Identifier("raw", source.name)
    names = [r[0] for r in cur.execute(sql.SQL(
        "select distinct jsonb_object_keys(readings) from {} order by 1").format(table))]
    for name in names:
        cur.execute(sql.SQL("alter table {} add column if not exists {} double precision")
                    .format(table, sql.Identifier(name)))
    if names:
        cur.execute(sql.SQL("update {} set {}").format(table, sql.SQL(", ").join(
            sql.SQL("{} = (readings ->> {})::double precision").format(
                sql.Identifier(n), sql.Literal(n)) for n in names)))
    cur.execute(sql.SQL("alter table {} drop column readings").format(table))


def _add_channels(cur: psycopg.Cursor, source: Source, channels: list[str]) -> None:
    """Add a double precision column per channel raw.<source> does not have yet. No advisory
    lock: ALTER TABLE locks the table itself, and IF NOT EXISTS is checked under that lock. Two
    loads adding channels at the same moment can deadlock; Postgres ends one, and the load's
    retry policy runs it again."""
    existing = {r[0] for r in cur.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = %s", (source.name,))}
    for name in channels:
        if name not in existing:
            cur.execute(sql.SQL("alter table {} add column if not exists {} double precision")
                        .format(sql.Identifier("raw", source.name), sql.Identifier(name)))


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
alter table raw.landed_files add column if not exists rejected_rows bigint not null default 0;
"""


def ensure_ledger(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        lock_ddl(conn)
        cur.execute("create schema if not exists raw")
        cur.execute(LEDGER_DDL)
        cur.execute(REJECTED_DDL)


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
    rows: int  # loaded into raw.<source>
    rejected: int  # kept in raw.rejected_rows
    ignored_columns: tuple[str, ...]
    # Lines the rejected rows span: a row swallowed by an unclosed quote spans many.
    rejected_lines: int = 0

    @property
    def rejected_share(self) -> float:
        """Share of the file's rows rejected, counting a rejected row by the lines it spans."""
        read = self.rows + self.rejected_lines
        return self.rejected_lines / read if read else 0.0


class _RejectedSpool:
    """Rejected rows on their way to raw.rejected_rows, spilled to disk past 32 MB so a file
    of millions of bad rows still loads in bounded memory."""

    def __init__(self, source: str):
        self.source = source
        self.file = tempfile.SpooledTemporaryFile(max_size=32 << 20, mode="w+", newline="")
        self.writer = csv.writer(self.file, lineterminator="\r\n")

    def add(self, uri: str, day: date, rows: list[Rejected]) -> None:
        for r in rows:
            # Postgres text cannot hold NUL; show it as the symbol for NUL.
            self.writer.writerow([self.source, uri, day.isoformat(),
                                  "" if r.row_number is None else r.row_number,
                                  "" if r.line_number is None else r.line_number,
                                  r.column or "", r.reason.replace("\x00", "\u2400"),
                                  r.raw_line.replace("\x00", "\u2400")])

    def copy_to(self, cur: psycopg.Cursor) -> None:
        self.file.seek(0)
        statement = sql.SQL("copy raw.rejected_rows ({}) from stdin with (format csv)").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in REJECTED_COLUMNS))
        with cur.copy(statement) as copy:
            while chunk := self.file.read(1 << 20):
                copy.write(chunk)
        self.file.close()


def _required_header(source: Source, options: SourceOptions, columns: list[str], uri: str
                     ) -> None:
    """A file with rows must have every required column (a header-only file may have none)."""
    renamed = [options.aliases.get(c, c) for c in columns]
    twice = sorted({c for c in renamed if renamed.count(c) > 1})
    if twice:
        raise LandedFileError(
            f"{uri}: after the source's aliases, column(s) {', '.join(twice)} appear more than "
            f"once (header: {', '.join(columns)})")
    present = set(renamed)
    missing = [c for c in source.required_columns if c not in present]
    if missing:
        raise LandedFileError(f"{uri}: missing required column(s) {', '.join(missing)}; "
                              f"found {', '.join(columns) or 'no columns'}")


# Arrow types of the contract's kinds, as validate.conform types them.
_ARROW_TYPES = {c.name: {"text": pa.string(), "number": pa.float64(), "integer": pa.float64(),
                         "timestamp": pa.timestamp("us", tz="UTC")}[c.kind]
                for s in SOURCES.values() for c in s.columns}


def _copy_file(cur: psycopg.Cursor, landing: Landing, landed, source: Source,
               options: SourceOptions, columns: list[str], spool: _RejectedSpool,
               now: datetime) -> FileLoad:
    loaded = rejected = rejected_lines = 0
    ignored: set[str] = set()
    day = landed.key.partition_date
    header_checked = landed.key.format.startswith("jsonl")  # JSON lines: checked per row
    cur.execute("select set_config('sparecast.source_file', %s, true), "
                "set_config('sparecast.partition_date', %s, true)", (landed.uri, day.isoformat()))
    copy, copy_stack, copy_columns = None, None, []
    with ExitStack() as stack:
        path = stack.enter_context(landing.local_path(landed.key.relative_key, landed.etag))
        for batch in read_batches(path, landed.key.format, options, landed.uri):
            if not header_checked and len(batch.row_number):
                _required_header(source, options, batch.table.column_names, landed.uri)
                header_checked = True
            conformed = conform(batch, source, options, now)
            spool.add(landed.uri, day, conformed.rejected)
            rejected += len(conformed.rejected)
            rejected_lines += sum(r.raw_line.count("\n") + 1 for r in conformed.rejected)
            ignored.update(conformed.ignored_columns)
            rows = conformed.table.num_rows
            if not rows:
                continue
            wanted = columns + [c for c in conformed.table.column_names
                                if c not in columns]
            if copy is None or not set(wanted) <= set(copy_columns):
                # A COPY's columns are fixed: a batch with a new channel (JSON lines may
                # add one at any line) closes it and opens one with the channel added.
                if copy is not None:
                    copy_stack.close()
                copy_columns = list(dict.fromkeys(copy_columns + wanted))
                if source.channel_columns:
                    _add_channels(cur, source, copy_columns[len(columns):])
                copy_stack = stack.enter_context(ExitStack())
                # Binary COPY (pgpq encodes Arrow columns): the server parses no text at all.
                schema = pa.schema([(c, _ARROW_TYPES.get(c, pa.float64()))
                                    for c in copy_columns] + [(ROW, pa.int64())])
                encoder = ArrowToPostgresBinaryEncoder(schema)
                copy = copy_stack.enter_context(cur.copy(
                    sql.SQL("copy {} ({}) from stdin with (format binary)").format(
                        sql.Identifier("raw", source.name),
                        sql.SQL(", ").join(sql.Identifier(c)
                                           for c in copy_columns + [ROW])),
                    writer=QueuedLibpqWriter(cur)))
                copy.write(encoder.write_header())
                # Runs before the COPY ends, and only when no error is on its way.
                copy_stack.push(lambda kind, *_, copy=copy, encoder=encoder:
                                kind is None and copy.write(encoder.finish()))
            table = conformed.table
            batch = pa.RecordBatch.from_arrays(
                [table.column(c).combine_chunks() if c in table.column_names
                 else pa.nulls(rows, pa.float64()) for c in copy_columns]
                + [pa.array(conformed.row_number, pa.int64())], schema=schema)
            copy.write(encoder.write_batch(batch))
            loaded += rows
    return FileLoad(landed.uri, day, loaded, rejected, tuple(sorted(ignored)), rejected_lines)


def load_window(
    conn: psycopg.Connection, landing: Landing, source_name: str, start: date, end: date,
    options: SourceOptions | None = None, now: datetime | None = None,
) -> list[FileLoad]:
    """Replace the rows of days [start, end) in raw.<source> with the landed files' rows."""
    source = SOURCES[source_name]
    options = options or load_source_options()[source_name]
    now = now or datetime.now(timezone.utc)
    files = files_for_window(landing, source_name, start, end)
    columns = [name for name, _ in raw_columns(source)]
    # Tables first, in a transaction of their own: the DDL lock is held only for that.
    with conn.transaction():
        ensure_raw_table(conn, source)
        ensure_ledger(conn)
    loads = []
    spool = _RejectedSpool(source_name)
    with conn.transaction(), conn.cursor() as cur:
        window = {"source": source_name, "start": start, "end": end}
        cur.execute(sql.SQL("delete from {} where _partition_date >= %(start)s and "
                            "_partition_date < %(end)s").format(
                                sql.Identifier("raw", source.name)), window)
        cur.execute("delete from raw.rejected_rows where source = %(source)s and "
                    "partition_date >= %(start)s and partition_date < %(end)s", window)
        for landed in files:
            loads.append(_copy_file(cur, landing, landed, source, options, columns, spool, now))
        spool.copy_to(cur)
        cur.execute("delete from raw.landed_files where source = %(source)s and "
                    "partition_date >= %(start)s and partition_date < %(end)s", window)
        cur.executemany(
            "insert into raw.landed_files (uri, source, relative_key, etag, size_bytes,"
            " last_modified, partition_date, rows, rejected_rows)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(f.uri, source_name, f.key.relative_key, f.etag, f.size, f.last_modified,
              f.key.partition_date, load.rows, load.rejected)
             for f, load in zip(files, loads)])
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


def unknown_parts(conn: psycopg.Connection, source_name: str, start: date, end: date,
                  sample: int = 20) -> list[str]:
    """Part ids of days [start, end) of raw.<source> that no parts snapshot names; empty while
    no parts file has been loaded (then nothing is known to be unknown)."""
    exists = conn.execute("select to_regclass('raw.parts') is not null").fetchone()[0]
    if not exists or conn.execute("select not exists (select from raw.parts)").fetchone()[0]:
        return []
    query = sql.SQL(
        "select distinct u.part_id from {} as u where u._partition_date >= %s and "
        "u._partition_date < %s and u.part_id is not null and not exists "
        "(select from raw.parts as p where p.part_id = u.part_id) order by 1 limit %s"
    ).format(sql.Identifier("raw", source_name))
    return [r[0] for r in conn.execute(query, (start, end, sample))]
