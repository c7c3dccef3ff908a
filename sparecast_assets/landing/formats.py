"""Read landed files into DataFrames, and hold them to their source's contract.

Errors name the file, the data row (1-based, counting neither the header nor blank lines, so it
means the same for CSV, JSON lines and Parquet), the column and the value: a person must be able
to find and fix it.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from sparecast_assets.landing.contract import Column, Source

# Lineage columns that travel with the rows from reading to COPY.
FILE = "_source_file"
ROW = "_row_number"

EARLIEST_TIMESTAMP = pd.Timestamp("1970-01-01", tz="UTC")
# Clocks drift and days are cut in UTC: a day of slack before a timestamp counts as future.
FUTURE_SLACK = timedelta(days=1)


class LandedFileError(ValueError):
    """A landed file that cannot be loaded; the message names the file and the problem."""


def read_frame(data: bytes, fmt: str, uri: str) -> pd.DataFrame:
    """Parse the bytes of a landed file. CSV values stay text until ``conform``."""
    if not data:
        raise LandedFileError(
            f"{uri}: the file is empty (0 bytes), which is what a failed upload leaves; land "
            "a file with at least a header row to say 'no rows for this day'")
    try:
        if fmt in ("csv", "csv.gz"):
            frame = pd.read_csv(
                io.BytesIO(data),
                compression="gzip" if fmt == "csv.gz" else None,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
            )
        elif fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        elif fmt == "jsonl":
            text = data.decode("utf-8-sig")
            frame = pd.read_json(io.StringIO(text), lines=True, dtype=False) if text.strip() else pd.DataFrame()
        else:
            raise LandedFileError(f"{uri}: unsupported format {fmt!r}")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except LandedFileError:
        raise
    except Exception as exc:  # the reader's own message says what is wrong with the bytes
        raise LandedFileError(f"{uri}: cannot be read as {fmt}: {exc}") from exc
    names = [str(c).strip() for c in frame.columns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if fmt in ("csv", "csv.gz"):
        # pandas renames a repeated header "x" to "x.1"; a repeated column is ambiguous.
        duplicated += sorted({n.rsplit(".", 1)[0] for n in names
                              if "." in n and n.rsplit(".", 1)[0] in names})
    if duplicated:
        raise LandedFileError(f"{uri}: column(s) {', '.join(duplicated)} appear more than once "
                              "in the header")
    frame.columns = names
    return frame


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype("string").str.strip() == "")


def _problem(frame: pd.DataFrame, bad: pd.Series, column: str, what: str) -> LandedFileError:
    position = int(np.flatnonzero(bad.to_numpy())[0])
    value = frame[column].iloc[position]
    shown = "an empty value" if _blank(frame[column]).iloc[position] else f"value {value!r}"
    return LandedFileError(
        f"{frame[FILE].iloc[position]}: data row {frame[ROW].iloc[position]}, column {column}: "
        f"{shown} {what} ({int(bad.sum())} row(s) like this in the batch)")


def _text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Typed text and the rows that cannot be text (nested objects)."""
    if pd.api.types.is_float_dtype(series) and np.all(np.isnan(series) | (series % 1 == 0)):
        series = series.astype("Int64")  # 1004.0 from a float column is the id "1004"
    nested = series.map(lambda v: isinstance(v, (dict, list, tuple, np.ndarray))).astype(bool)
    out = series.astype("string").str.strip()
    return out.mask(out == ""), nested


def _number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Typed numbers and the rows that are not finite numbers (booleans are not numbers)."""
    booleans = series.map(lambda v: isinstance(v, (bool, np.bool_))).astype(bool)
    values = pd.to_numeric(series.mask(_blank(series) | booleans), errors="coerce").astype(float)
    not_finite = ~np.isfinite(values.fillna(0.0))
    return values.mask(not_finite), (values.isna() & ~_blank(series)) | booleans | not_finite


def _timestamp(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    values = pd.to_datetime(series.mask(_blank(series)), errors="coerce", utc=True, format="ISO8601")
    return values, values.isna() & ~_blank(series)


def check_required_columns(frame: pd.DataFrame, source: Source, uri: str) -> None:
    """A file with rows must have every required column (a header-only file may have none)."""
    missing = [c for c in source.required_columns if c not in frame.columns]
    if missing and len(frame):
        found = [c for c in frame.columns if c not in (FILE, ROW)]
        raise LandedFileError(f"{uri}: missing required column(s) {', '.join(missing)}; "
                              f"found {', '.join(found) or 'no columns'}")


def conform(frame: pd.DataFrame, source: Source, uri: str | None = None
            ) -> tuple[pd.DataFrame, list[str]]:
    """Return the contract's columns, typed, plus the names of columns that were not used.

    ``frame`` may hold the rows of many files, with their ``_source_file`` and ``_row_number``;
    a frame without them is one file, ``uri``. Raises LandedFileError on the first problem.
    For telemetry every undeclared column is a numeric sensor channel in ``readings``.
    """
    if FILE not in frame.columns:
        frame = frame.assign(**{FILE: uri or "<file>", ROW: np.arange(1, len(frame) + 1)})
    check_required_columns(frame, source, ", ".join(sorted(set(frame[FILE]))))

    now = pd.Timestamp(datetime.now(timezone.utc))
    out = pd.DataFrame(index=frame.index)
    for column in source.columns:
        if column.name not in frame.columns:
            out[column.name] = None
            continue
        out[column.name] = _conform_column(frame, column, now)

    declared = {c.name for c in source.columns} | {FILE, ROW}
    extra = [c for c in frame.columns if c not in declared]
    if source.channel_columns:
        channels = {}
        for name in extra:
            values, bad = _number(frame[name])
            if bad.any():
                raise _problem(frame, bad, name, "is not a finite number (sensor channel)")
            channels[name] = values
        out["readings"] = _readings_json(pd.DataFrame(channels, index=frame.index))
        extra = []
    out[FILE] = frame[FILE]
    out[ROW] = frame[ROW]
    return out, extra


def _conform_column(frame: pd.DataFrame, column: Column, now: pd.Timestamp) -> pd.Series:
    raw = frame[column.name]
    if column.required:
        empty = _blank(raw)
        if empty.any():
            raise _problem(frame, empty, column.name, "where a value is required")
    if column.kind == "text":
        typed, nested = _text(raw)
        if nested.any():
            raise _problem(frame, nested, column.name, "is a nested object, not text")
        nul = typed.fillna("").str.contains("\x00", regex=False)
        if nul.any():
            raise _problem(frame, nul, column.name, "contains a NUL byte")
        return typed
    if column.kind in ("number", "integer"):
        typed, bad = _number(raw)
        if bad.any():
            raise _problem(frame, bad, column.name, "is not a finite number")
        if column.minimum is not None:
            low = typed <= column.minimum if column.strict else typed < column.minimum
            if low.any():
                raise _problem(frame, low.fillna(False), column.name,
                               f"is out of range (allowed: {column.allowed})")
        return typed
    if column.kind == "timestamp":
        typed, bad = _timestamp(raw)
        if bad.any():
            raise _problem(frame, bad, column.name,
                           "is not an ISO 8601 timestamp (e.g. 2025-01-31 14:05:00)")
        future = typed > now + FUTURE_SLACK
        if future.any():
            raise _problem(frame, future.fillna(False), column.name, "is in the future")
        early = typed < EARLIEST_TIMESTAMP
        if early.any():
            raise _problem(frame, early.fillna(False), column.name, "is before 1970")
        return typed
    raise ValueError(f"unknown column kind {column.kind!r}")


def _readings_json(channels: pd.DataFrame) -> pd.Series:
    """One JSON object per row, channel -> value; missing readings are left out, not null."""
    names = list(channels.columns)
    matrix = channels.to_numpy(dtype=float)
    rows = []
    for values in matrix:
        rows.append(json.dumps({n: float(v) for n, v in zip(names, values) if not np.isnan(v)}))
    return pd.Series(rows, index=channels.index, dtype=object)
