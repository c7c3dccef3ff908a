"""Hold a batch of read rows to its source's contract: type every cell, reject every row that
breaks a rule, and say why in words a person can act on.

A rejected row costs the load nothing but that row: the rest of the batch loads, and the row is
kept in ``raw.rejected_rows`` with its reason. Clean columns take vectorized fast paths (one
Arrow cast per column); only a column with a bad value falls back to locating it row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sparecast_assets.landing.contract import Column, Source
from sparecast_assets.landing.formats import LandedFileError, RawBatch, Rejected
from sparecast_assets.landing.options import SourceOptions

TIMESTAMP = pa.timestamp("us", tz="UTC")
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Clocks drift and days are cut in UTC: a day of slack before a timestamp counts as future.
FUTURE_SLACK = timedelta(days=1)
# A time of day followed by Z or a UTC offset: the value says its own zone.
# Matches extended (06:00:00) and basic (060000) times, with or without minutes and seconds.
OFFSET = r"[T ]\d\d(:?\d\d(:?\d\d([.,]\d+)?)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"
TIMESTAMP_EXAMPLE = "an ISO 8601 timestamp (e.g. 2025-01-31 14:05:00)"
# Each telemetry channel becomes a column of raw.telemetry: Postgres names hold 63 bytes, and
# the lineage columns are taken.
MAX_CHANNEL_BYTES = 63
RESERVED_CHANNELS = frozenset({"_partition_date", "_source_file", "_row_number", "_loaded_at"})


@dataclass
class Conformed:
    """A batch's rows that meet the contract, typed, and the ones that do not."""

    table: pa.Table  # the contract's columns (telemetry: plus one per channel), typed
    row_number: np.ndarray
    rejected: list[Rejected]
    ignored_columns: list[str]


class _Problems:
    """Per-row reasons, gathered column by column; messages are built only for bad rows."""

    def __init__(self, rows: int):
        self.rows = rows
        self.found: list[tuple[np.ndarray, str, callable]] = []

    def add(self, mask: np.ndarray, column: str, message) -> None:
        if mask.any():
            self.found.append((mask, column, message))

    @property
    def bad(self) -> np.ndarray:
        bad = np.zeros(self.rows, dtype=bool)
        for mask, _, _ in self.found:
            bad |= mask
        return bad

    def reasons(self, index: int) -> tuple[str, str]:
        hits = [(column, message(index)) for mask, column, message in self.found if mask[index]]
        return hits[0][0], "; ".join(f"{column}: {text}" for column, text in hits)


def _numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


def _shown(cells: pa.ChunkedArray):
    def show(i: int) -> str:
        return repr(cells[i].as_py())
    return show


def _text(cells: pa.ChunkedArray, column: Column, nested: np.ndarray | None,
          problems: _Problems) -> pa.ChunkedArray:
    values = pc.utf8_trim_whitespace(cells)
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    if nested is not None:
        problems.add(nested, column.name, lambda i: "is a nested value (object or list), not text")
    nul = _numpy(pc.fill_null(pc.match_substring(values, "\x00"), False))
    problems.add(nul, column.name, lambda i: "contains a NUL byte")
    if column.name.endswith("_id") or column.name == "error_code":
        # An identifier never spans lines; one that does swallowed the rows after an
        # unclosed quote, and those rows must not vanish quietly inside it.
        broken = _numpy(pc.fill_null(pc.match_substring_regex(values, "[\r\n]"), False))
        problems.add(broken, column.name,
                     lambda i: "contains a line break (is a quote left open?)")
    if column.values:
        allowed = pa.array(column.values)
        wrong = (_numpy(pc.is_valid(values))
                 & ~_numpy(pc.fill_null(pc.is_in(pc.utf8_lower(values), allowed), False)))
        show = _shown(cells)
        problems.add(wrong, column.name,
                     lambda i: f"{show(i)} is not one of {', '.join(column.values)}")
    return values


def _number(cells: pa.ChunkedArray, name: str, options: SourceOptions,
            problems: _Problems) -> tuple[pa.ChunkedArray, None]:
    """Cells as float64; cells that are not finite numbers become null and a problem."""
    values = None
    if options.decimal == ".":
        values = _cast_or_none(cells, pa.float64())
    if values is None:
        text = pc.utf8_trim_whitespace(cells)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        if options.decimal == ",":
            # 1.234,5 is 1234.5: dots group thousands, the comma marks the decimals.
            text = pc.replace_substring(pc.replace_substring(text, ".", ""), ",", ".")
        try:
            values = pc.cast(text, pa.float64())
        except pa.ArrowInvalid:
            # Row by row, only now that some cell is known to be bad.
            parsed = pd.to_numeric(pd.Series(_numpy(text), dtype=object), errors="coerce")
            values = pa.array(parsed.to_numpy(dtype=float), pa.float64(),
                              mask=_numpy(pc.is_null(cells)) | parsed.isna().to_numpy())
    bad = ~_numpy(pc.fill_null(pc.is_finite(values), True))
    if values.null_count:
        blank = _numpy(pc.is_null(pc.if_else(pc.equal(pc.utf8_trim_whitespace(cells), ""),
                                             pa.scalar(None, pa.string()), cells)))
        bad |= _numpy(pc.is_null(values)) & ~blank
    if bad.any():
        show = _shown(cells)
        problems.add(bad, name, lambda i: f"{show(i)} is not a finite number")
        values = pc.if_else(pa.array(bad), pa.scalar(None, pa.float64()), values)
    return values, None


def _bounds(values: pa.ChunkedArray, cells: pa.ChunkedArray, column: Column,
            problems: _Problems) -> None:
    numbers = _numpy(pc.fill_null(values, np.nan))
    with np.errstate(invalid="ignore"):
        low = np.zeros(len(numbers), dtype=bool)
        if column.minimum is not None:
            low = numbers <= column.minimum if column.strict else numbers < column.minimum
        high = numbers > column.maximum if column.maximum is not None else np.zeros_like(low)
    show = _shown(cells)
    problems.add(low | high, column.name,
                 lambda i: f"{show(i)} is out of range (allowed: {column.allowed})")


def _cast_or_none(cells, kind) -> pa.Array | None:
    try:
        return pc.cast(cells, kind)
    except pa.ArrowInvalid:
        return None


def _timestamp(cells: pa.ChunkedArray, column: Column, options: SourceOptions, now: datetime,
               problems: _Problems) -> pa.Array:
    """Cells as UTC timestamps. A value with Z or an offset keeps it; a value without one is
    a wall-clock time in the source's zone, so a time the clocks skipped or repeated at a
    daylight-saving change cannot be placed and is rejected."""
    # Upper case: ISO 8601 allows a lower-case t and z, Arrow's parser does not.
    text = pc.utf8_upper(pc.utf8_trim_whitespace(cells))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    rows = len(text)
    zone = options.timezone

    # Fast paths: the whole column naive, or the whole column with offsets.
    naive_cast = _cast_or_none(text, pa.timestamp("us"))
    if naive_cast is not None:
        naive, aware = np.ones(rows, dtype=bool), np.zeros(rows, dtype=bool)
    else:
        aware_cast = _cast_or_none(text, TIMESTAMP)
        if aware_cast is not None:
            naive, aware = np.zeros(rows, dtype=bool), np.ones(rows, dtype=bool)
        else:
            aware = _numpy(pc.fill_null(pc.match_substring_regex(text, OFFSET), False))
            naive = ~aware
    nulls = _numpy(pc.is_null(text))
    result = np.full(rows, np.datetime64("NaT"), dtype="datetime64[us]")
    skipped = np.zeros(rows, dtype=bool)
    repeated = np.zeros(rows, dtype=bool)

    if aware.any():
        subset = text.filter(pa.array(aware))
        parsed = _cast_or_none(subset, TIMESTAMP)
        if parsed is None:
            parsed = pd.to_datetime(pd.Series(_numpy(subset), dtype=object), errors="coerce",
                                    utc=True, format="ISO8601")
            parsed = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        else:
            parsed = _numpy(pc.cast(parsed, pa.timestamp("us"))).astype("datetime64[us]")
        result[aware] = parsed
    if naive.any():
        subset = text.filter(pa.array(naive)) if not naive.all() else text
        parsed = naive_cast if naive.all() and naive_cast is not None else \
            _cast_or_none(subset, pa.timestamp("us"))
        if parsed is None:
            # utc=True only lets pandas accept the column; the values here have no offset,
            # so dropping the zone again gives back their wall-clock time.
            local = pd.to_datetime(pd.Series(_numpy(subset), dtype=object), errors="coerce",
                                   format="ISO8601", utc=True)
            parsed = pa.array(local.dt.tz_localize(None).to_numpy(dtype="datetime64[us]"),
                              pa.timestamp("us"))
        if zone == "UTC":
            placed = _numpy(parsed).astype("datetime64[us]")
        else:
            earliest = pc.assume_timezone(parsed, timezone=zone, ambiguous="earliest",
                                          nonexistent="earliest")
            latest = pc.assume_timezone(parsed, timezone=zone, ambiguous="latest",
                                        nonexistent="latest")
            first = _numpy(pc.cast(earliest, pa.timestamp("us"))).astype("datetime64[us]")
            last = _numpy(pc.cast(latest, pa.timestamp("us"))).astype("datetime64[us]")
            differs = (first != last) & ~np.isnat(first)
            # A skipped wall time maps to the last instant before the jump and the jump
            # itself (1 µs apart); a repeated one to two instants one shift apart.
            gap = (last - first).astype("timedelta64[us]")
            sub_skipped = differs & (gap <= np.timedelta64(1, "ms"))
            sub_repeated = differs & ~sub_skipped
            placed = np.where(differs, np.datetime64("NaT"), first)
            skipped[naive] = sub_skipped
            repeated[naive] = sub_repeated
        result[naive] = placed

    unparsed = np.isnat(result) & ~nulls & ~skipped & ~repeated
    show = _shown(cells)
    problems.add(unparsed, column.name, lambda i: f"{show(i)} is not {TIMESTAMP_EXAMPLE}")
    problems.add(skipped, column.name, lambda i: (
        f"{show(i)} does not exist in {zone} (the clocks skipped that hour)"))
    problems.add(repeated, column.name, lambda i: (
        f"{show(i)} happens twice in {zone} (the clocks went back); write it with a UTC "
        "offset"))
    valid = ~np.isnat(result)
    limit = np.datetime64((now + FUTURE_SLACK).replace(tzinfo=None), "us")
    problems.add(valid & (result > limit), column.name, lambda i: f"{show(i)} is in the future")
    problems.add(valid & (result < np.datetime64("1970-01-01", "us")), column.name,
                 lambda i: f"{show(i)} is before 1970")
    return pa.array(result, pa.timestamp("us")).cast(TIMESTAMP)


def conform(batch: RawBatch, source: Source, options: SourceOptions, now: datetime | None = None
            ) -> Conformed:
    """Type the batch's cells against ``source``'s contract; rows with any problem are
    rejected with every problem in their reason."""
    now = now or datetime.now(timezone.utc)
    rows = len(batch.row_number)
    names = {options.aliases.get(n, n): n for n in batch.table.column_names}
    declared = {c.name for c in source.columns}
    problems = _Problems(rows)
    empty = pa.chunked_array([pa.nulls(rows, pa.string())])

    typed = {}
    for column in source.columns:
        original = names.get(column.name)
        cells = batch.table.column(original) if original is not None else empty
        nested = batch.nested.get(original) if original is not None else None
        if column.required:
            missing = _numpy(pc.is_null(pc.if_else(
                pc.equal(pc.utf8_trim_whitespace(cells), ""), pa.scalar(None, pa.string()),
                cells)))
            problems.add(missing, column.name, lambda i: "a value is required")
        if column.kind == "text":
            typed[column.name] = _text(cells, column, nested, problems)
            continue
        if nested is not None:
            problems.add(nested, column.name, lambda i: "is a nested value (object or list)")
        if column.kind in ("number", "integer"):
            values, _ = _number(cells, column.name, options, problems)
            _bounds(values, cells, column, problems)
            typed[column.name] = values
        elif column.kind == "timestamp":
            typed[column.name] = _timestamp(cells, column, options, now, problems)
        else:
            raise ValueError(f"unknown column kind {column.kind!r}")

    extra = [contract for contract in names if contract not in declared]
    ignored = []
    if source.channel_columns:
        for name in extra:
            if name in RESERVED_CHANNELS or len(name.encode()) > MAX_CHANNEL_BYTES:
                raise LandedFileError(
                    f"{batch.uri}: column {name!r} cannot be a sensor channel: "
                    + ("the name is reserved for lineage" if name in RESERVED_CHANNELS else
                       f"names are limited to {MAX_CHANNEL_BYTES} bytes"))
            cells = batch.table.column(names[name])
            if name in batch.nested:
                problems.add(batch.nested[name], name, lambda i: "is a nested value")
            typed[name] = _number(cells, name, options, problems)[0]
    else:
        ignored = extra

    bad = problems.bad
    rejected = list(batch.rejected)
    for index in np.flatnonzero(bad):
        column, reason = problems.reasons(int(index))
        rejected.append(Rejected(
            int(batch.row_number[index]),
            None if batch.line_number is None else int(batch.line_number[index]),
            batch.raw_line(int(index)), column, reason))
    table = pa.table(typed) if typed else pa.table({})
    keep = pa.array(~bad)
    return Conformed(table.filter(keep), batch.row_number[~bad], rejected, ignored)

