"""Read one landed file into a DataFrame, and hold it to its source's contract."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from sparecast_assets.landing.contract import Source


class LandedFileError(ValueError):
    """A landed file that cannot be loaded; the message names the file and the problem."""


def read_frame(data: bytes, fmt: str, uri: str) -> pd.DataFrame:
    """Parse the bytes of a landed file. CSV and JSON values stay text until ``conform``."""
    try:
        if fmt in ("csv", "csv.gz"):
            return pd.read_csv(
                io.BytesIO(data),
                compression="gzip" if fmt == "csv.gz" else None,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
            )
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "jsonl":
            if not data.strip():
                return pd.DataFrame()
            return pd.read_json(io.BytesIO(data), lines=True, dtype=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # the reader's own message says what is wrong with the bytes
        raise LandedFileError(f"{uri}: cannot be read as {fmt}: {exc}") from exc
    raise LandedFileError(f"{uri}: unsupported format {fmt!r}")


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype("string").str.strip() == "")


def _coerce(series: pd.Series, kind: str) -> pd.Series:
    if kind == "text":
        out = series.astype("string").str.strip()
        return out.mask(out == "")
    if kind in ("number", "integer"):
        return pd.to_numeric(series.mask(_blank(series)), errors="coerce")
    if kind == "timestamp":
        # Naive timestamps are taken as UTC, the contract's time zone.
        return pd.to_datetime(series.mask(_blank(series)), errors="coerce", utc=True,
                              format="ISO8601")
    if kind == "date":
        return pd.to_datetime(series.mask(_blank(series)), errors="coerce").dt.date
    raise ValueError(f"unknown column kind {kind!r}")


def conform(frame: pd.DataFrame, source: Source, uri: str) -> tuple[pd.DataFrame, list[str]]:
    """Return the contract's columns, typed, plus the names of columns that were not used.

    Raises LandedFileError naming the file, column, line and value on the first problem.
    For telemetry every undeclared numeric column becomes a channel in ``readings``.
    """
    frame = frame.rename(columns=lambda c: str(c).strip())
    missing = [c for c in source.required_columns if c not in frame.columns]
    if missing and len(frame.columns) > 0:
        raise LandedFileError(
            f"{uri}: missing required column(s) {', '.join(missing)}; "
            f"found {', '.join(frame.columns)}"
        )

    out = pd.DataFrame(index=frame.index)
    for column in source.columns:
        if column.name not in frame.columns:
            out[column.name] = None
            continue
        raw = frame[column.name]
        typed = _coerce(raw, column.kind)
        bad = typed.isna() & ~_blank(raw)
        if column.required:
            bad |= _blank(raw)
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            value = raw.iloc[first]
            problem = "is empty" if _blank(raw).iloc[first] else f"value {value!r} is not a {column.kind}"
            raise LandedFileError(
                f"{uri}: line {first + 2}, column {column.name}: {problem} "
                f"({int(bad.sum())} bad value(s) in this column)"
            )
        out[column.name] = typed

    declared = {c.name for c in source.columns}
    extra = [c for c in frame.columns if c not in declared]
    if source.channel_columns:
        channels = {}
        for name in extra:
            values = pd.to_numeric(frame[name].mask(_blank(frame[name])), errors="coerce")
            bad = values.isna() & ~_blank(frame[name])
            if bad.any():
                first = int(np.flatnonzero(bad.to_numpy())[0])
                raise LandedFileError(
                    f"{uri}: line {first + 2}, sensor channel {name}: value "
                    f"{frame[name].iloc[first]!r} is not a number"
                )
            channels[name] = values
        out["readings"] = _readings_json(pd.DataFrame(channels, index=frame.index))
        extra = []
    return out, extra


def _readings_json(channels: pd.DataFrame) -> pd.Series:
    """One JSON object per row, channel -> value; missing readings are left out, not null."""
    names = list(channels.columns)
    matrix = channels.to_numpy(dtype=float)
    rows = []
    for values in matrix:
        rows.append(json.dumps({n: float(v) for n, v in zip(names, values) if not np.isnan(v)}))
    return pd.Series(rows, index=channels.index, dtype=object)
