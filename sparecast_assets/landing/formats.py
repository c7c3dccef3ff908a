"""Read landed files as a stream of batches of text cells, whatever their format.

Every reader yields ``RawBatch``es of at most a few hundred thousand rows, so a file of any
size loads in constant memory. Cells stay text (``None`` for an empty cell) until
``validate.conform`` types them against the contract, so a bad value becomes a rejected row
with a reason instead of a crash in a parser. Rows the reader itself cannot make sense of (a
CSV row with the wrong number of fields, a JSON line that is not an object) come out as
``Rejected`` records with the exact text and line. A file that cannot be read at all
(truncated gzip, not text in its encoding, not Parquet) raises ``LandedFileError`` naming the
file and the problem.

Numbering: ``row_number`` counts the file's data records from 1 (header and blank lines not
counted, malformed records counted), the same numbering as ``raw.<source>._row_number``;
``line_number`` is the line of the file where the record starts (the header is line 1).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sparecast_assets.landing.options import SourceOptions

# Bytes the CSV reader parses at a time; a batch holds one block's rows. Arrow's streaming
# reader reads up to 32 blocks ahead of the parser, so this bounds the reader's memory at about
# 32 x 4 MB whatever the file's size.
CSV_BLOCK_BYTES = 4 << 20
JSON_LINES_PER_BATCH = 50_000
PARQUET_ROWS_PER_BATCH = 250_000
DELIMITERS = (",", ";", "\t", "|")


class LandedFileError(ValueError):
    """A landed file that cannot be loaded; the message names the file and the problem."""


@dataclass
class Rejected:
    """One row that breaks the contract, with what a person needs to find and fix it."""

    row_number: int | None
    line_number: int | None
    raw_line: str
    column: str | None
    reason: str


@dataclass
class RawBatch:
    """Rows of one file: a text (or null) cell per file column, in file order."""

    table: pa.Table
    row_number: np.ndarray
    line_number: np.ndarray | None
    raw_line: Callable[[int], str]
    # Per column, the rows whose cell was an object or list (JSON lines, Parquet).
    nested: dict[str, np.ndarray] = field(default_factory=dict)
    # Rows the reader could not split into the file's columns.
    rejected: list[Rejected] = field(default_factory=list)
    uri: str = ""


def _compression(fmt: str) -> str | None:
    return "gzip" if fmt.endswith(".gz") else None


def read_batches(path: Path, fmt: str, options: SourceOptions, uri: str) -> Iterator[RawBatch]:
    """The file's rows, batch by batch. Raises LandedFileError for an unreadable file."""
    if path.stat().st_size == 0:
        raise LandedFileError(
            f"{uri}: the file is empty (0 bytes), which is what a failed upload leaves; land "
            "a file with at least a header row to say 'no rows for this day'")
    try:
        if fmt in ("csv", "csv.gz"):
            batches = _CsvReader(path, fmt, options, uri).batches()
        elif fmt in ("jsonl", "jsonl.gz"):
            batches = _json_lines(path, fmt, options, uri)
        elif fmt == "parquet":
            batches = _parquet(path, uri)
        else:
            raise LandedFileError(f"{uri}: unsupported format {fmt!r}")
        for batch in batches:
            batch.uri = uri
            yield batch
    except LandedFileError:
        raise
    except (pa.ArrowInvalid, pa.ArrowException, OSError, EOFError, UnicodeDecodeError,
            gzip.BadGzipFile, ValueError, csv.Error) as exc:
        # The reader's own message says what is wrong with the bytes.
        raise LandedFileError(f"{uri}: cannot be read as {fmt}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_header(names: list[str], uri: str) -> list[str]:
    names = [n.strip() for n in names]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise LandedFileError(f"{uri}: column(s) {', '.join(duplicated)} appear more than once "
                              "in the header")
    return names


def _first_bad_byte(path: Path, fmt: str, encoding: str) -> tuple[int, int] | None:
    """(line, byte offset) of the first bytes that are not text in ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    with pa.input_stream(str(path), compression=_compression(fmt)) as stream:
        while chunk := stream.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk.count(b"\n", 0, exc.start), offset + exc.start
            line += chunk.count(b"\n")
            offset += len(chunk)
    return None


def _encoding_error(path: Path, fmt: str, options: SourceOptions, uri: str) -> LandedFileError:
    where = _first_bad_byte(path, fmt, options.encoding)
    at = f" (first at line {where[0]}, byte {where[1]})" if where else ""
    return LandedFileError(
        f"{uri}: is not {options.encoding} text{at}; if the source writes another encoding, "
        "set 'encoding' for this source in the sources file")


class _CsvReader:
    def __init__(self, path: Path, fmt: str, options: SourceOptions, uri: str):
        self.path, self.fmt, self.options, self.uri = path, fmt, options, uri
        self.malformed: list[str] = []

    def _head(self) -> str:
        with pa.input_stream(str(self.path), compression=_compression(self.fmt)) as stream:
            head = stream.read(1 << 20)
        if not head.strip():
            raise LandedFileError(f"{self.uri}: holds no header row (only whitespace)")
        try:
            # A multi-byte character may be cut at the end of the sample.
            text = codecs.getincrementaldecoder(self.options.encoding)().decode(head)
        except UnicodeDecodeError:
            raise _encoding_error(self.path, self.fmt, self.options, self.uri) from None
        return text.lstrip("\ufeff")

    def _header(self) -> tuple[str, list[str]]:
        head = self._head()
        first_line = (head.splitlines() or [""])[0]
        delimiter = self.options.delimiter
        if delimiter == "auto":
            widths = {d: len(next(csv.reader([first_line], delimiter=d))) for d in DELIMITERS}
            delimiter = max(DELIMITERS, key=lambda d: (widths[d], -DELIMITERS.index(d)))
        names = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        names = [n or f"column_{i + 1}" for i, n in enumerate(n.strip() for n in names)]
        return delimiter, check_header(names, self.uri)

    def _on_invalid(self, row) -> str:
        self.malformed.append(row.text)
        return "skip"

    def batches(self) -> Iterator[RawBatch]:
        delimiter, names = self._header()
        self.delimiter = delimiter
        if not any(end in self._head().rstrip("\r\n") for end in ("\n", "\r")) and \
                self.path.stat().st_size < (1 << 20):
            return  # a header line alone, even without a line end: no rows for this day
        reader = pacsv.open_csv(
            pa.input_stream(str(self.path), compression=_compression(self.fmt)),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES,
                encoding=self.options.encoding),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False,
                invalid_row_handler=self._on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                quoted_strings_can_be_null=True, null_values=[""]),
        )
        locator = _LineLocator(self.path, self.fmt, self.options.encoding)
        # Where the stream stands: rows the parser returned (blank lines included), newlines
        # inside their quoted cells, data rows, and malformed records found so far.
        seen_rows = seen_newlines = data_rows = 0
        located: list[tuple[int, int, str]] = []  # (line, lines spanned, text)
        unnumbered: list[int] = []  # indexes into located still waiting for a row number
        unknown_lines: set[int] = set()  # located records whose line is an estimate
        while True:
            try:
                record_batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
                    raise _encoding_error(self.path, self.fmt, self.options, self.uri) from None
                if "straddling" in str(exc):
                    raise LandedFileError(
                        f"{self.uri}: a single row is longer than {CSV_BLOCK_BYTES >> 20} MB; "
                        "most likely a quote is opened and never closed") from None
                raise
            table = pa.Table.from_batches([record_batch])
            rows = table.num_rows
            while len(located) < len(self.malformed):
                text = self.malformed[len(located)]
                line = locator.locate(text)
                if line is None:
                    # Not found byte for byte (the parser saw the text after transcoding):
                    # placed after the last known position, reported without a line.
                    estimate = (located[-1][0] + located[-1][1] if located
                                else 2 + seen_rows + seen_newlines)
                    unknown_lines.add(len(located))
                    line = estimate
                located.append((line, text.count("\n") + 1, text))
                unnumbered.append(len(located) - 1)
            newlines = np.zeros(rows, dtype=np.int64)
            blank = np.ones(rows, dtype=bool)
            for column in table.columns:
                newlines += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(
                    zero_copy_only=False)
                blank &= pc.is_null(column).to_numpy(zero_copy_only=False)
            base = (2 + seen_rows + np.arange(rows, dtype=np.int64) + seen_newlines
                    + np.concatenate(([0], np.cumsum(newlines)[:-1])).astype(np.int64))
            if not located:  # the usual case: nothing malformed so far
                lines, before = base, np.zeros(rows, dtype=np.int64)
                occupied = np.zeros(0, dtype=np.int64)
            else:
                lines, before, occupied = self._shift(base, located)
            keep = ~blank
            data_base = base[keep]
            row_numbers = data_rows + np.arange(1, keep.sum() + 1) + before[keep]
            rejected = []
            for index in list(unnumbered):
                line, _, text = located[index]
                if len(data_base) and occupied[index] > data_base[-1]:
                    continue  # after this batch's rows: numbered with a later batch
                rows_before = data_rows + int(np.searchsorted(data_base, occupied[index]))
                rejected.append(self._malformed(text, None if index in unknown_lines else line,
                                                rows_before + index + 1, len(names)))
                unnumbered.remove(index)

            seen_rows += rows
            seen_newlines += int(newlines.sum())
            data_rows += int(keep.sum())
            kept = table.filter(pa.array(keep))
            yield RawBatch(kept, row_numbers, lines[keep], self._raw_line(kept, delimiter),
                           rejected=rejected)
        rejected = [self._malformed(located[i][2],
                                    None if i in unknown_lines else located[i][0],
                                    data_rows + i + 1, len(names)) for i in unnumbered]
        if rejected:
            yield RawBatch(pa.table({n: pa.array([], pa.string()) for n in names}),
                           np.array([], np.int64), np.array([], np.int64), lambda i: "",
                           rejected=rejected)

    @staticmethod
    def _shift(base: np.ndarray, located: list[tuple[int, int, str]]):
        """Lines of the parsed rows once the malformed records' lines are counted in."""
        spans = np.array([s for _, s, _ in located], dtype=np.int64)
        occupied = (np.array([line for line, _, _ in located], dtype=np.int64)
                    - np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64))
        before = np.searchsorted(occupied, base, side="right")
        span_before = np.concatenate(([0], np.cumsum(spans))).astype(np.int64)[before]
        return base + span_before, before, occupied

    def _malformed(self, text: str, line: int | None, row: int, width: int) -> Rejected:
        found = len(next(csv.reader(io.StringIO(text), delimiter=self.delimiter)))
        return Rejected(row, line, text, None,
                        f"the row has {found} field(s); the header has {width}")

    @staticmethod
    def _raw_line(table: pa.Table, delimiter: str) -> Callable[[int], str]:
        def raw(i: int) -> str:
            out = io.StringIO()
            csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(
                ["" if c[i].as_py() is None else c[i].as_py() for c in table.columns])
            return out.getvalue()[:-2]
        return raw


class _LineLocator:
    """Finds, reading the file once from front to back, the line where a record starts.

    Only files with malformed records need it. Records are located in file order, so each
    search continues where the previous one ended."""

    def __init__(self, path: Path, fmt: str, encoding: str):
        self.path, self.fmt, self.encoding = path, fmt, encoding
        self.stream = None
        self.buffer = b""
        self.lines_before = 0  # newlines before self.buffer[0]
        self.position = 0
        self.ended = False

    def locate(self, text: str) -> int | None:
        if self.stream is None:
            self.stream = pa.input_stream(str(self.path), compression=_compression(self.fmt))
        needle = text.encode(self.encoding)
        while True:
            at = self.buffer.find(needle, self.position)
            while at != -1:
                after = self.buffer[at + len(needle):at + len(needle) + 1]
                if after == b"" and not self.ended:
                    break  # the record may go on in the next chunk
                # self.buffer always starts at a line start
                if (at == 0 or self.buffer[at - 1] == 0x0A) and after in (b"", b"\n", b"\r"):
                    self.position = at + len(needle)
                    return self.lines_before + self.buffer.count(b"\n", 0, at) + 1
                at = self.buffer.find(needle, at + 1)
            if self.ended:
                return None
            chunk = self.stream.read(1 << 20)
            self.ended = not chunk
            cut = self.buffer.rfind(b"\n", 0, self.position) + 1
            self.lines_before += self.buffer.count(b"\n", 0, cut)
            self.buffer = self.buffer[cut:] + chunk
            self.position -= cut


class _Number(str):
    """A JSON number kept as written (no float rounding of long ids, 1e400 stays 1e400)."""


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object with its keys trimmed; a key given twice is an error, not a silent pick."""
    out: dict = {}
    for key, value in pairs:
        key = key.strip()
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _cell(value) -> tuple[str | None, bool]:
    """A JSON or Parquet value as a text cell, and whether it was nested."""
    if value is None:
        return None, False
    if isinstance(value, _Number):
        if value.endswith(".0") and value[:-2].lstrip("-").isdigit():
            return value[:-2], False  # 1004.0 is the id "1004"
        return str(value), False
    if isinstance(value, str):
        return value, False
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str), True
    if isinstance(value, float) and value != value:  # NaN: no value
        return None, False
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value)), False  # 1004.0 from a float column is the id "1004"
    return (json.dumps(value) if isinstance(value, (int, float)) else str(value)), False


def _records_batch(records: list[dict], row_numbers: list[int], line_numbers: list[int] | None,
                   raw: list[str], rejected: list[Rejected]) -> RawBatch:
    names: list[str] = []
    for record in records:
        for name in record:
            if name not in names:
                names.append(name)
    columns, nested = {}, {}
    for name in names:
        cells = [_cell(r.get(name)) for r in records]
        columns[name.strip()] = pa.array([c for c, _ in cells], pa.string())
        flags = np.array([n for _, n in cells], dtype=bool)
        if flags.any():
            nested[name.strip()] = flags
    table = pa.table(columns) if columns else pa.table({})
    return RawBatch(table, np.array(row_numbers, np.int64),
                    None if line_numbers is None else np.array(line_numbers, np.int64),
                    lambda i: raw[i], nested=nested, rejected=rejected)


def _json_lines(path: Path, fmt: str, options: SourceOptions, uri: str) -> Iterator[RawBatch]:
    opener = gzip.open if fmt.endswith(".gz") else open
    records, rows, lines, raw, rejected = [], [], [], [], []
    row = 0
    with opener(path, "rb") as stream:
        for line_number, data in enumerate(stream, start=1):
            try:
                text = data.decode(options.encoding)
            except UnicodeDecodeError:
                raise LandedFileError(
                    f"{uri}: is not {options.encoding} text (first at line {line_number}); if "
                    "the source writes another encoding, set 'encoding' for this source in the "
                    "sources file") from None
            if line_number == 1:
                text = text.lstrip("\ufeff")
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            row += 1
            try:
                value = json.loads(text, object_pairs_hook=_pairs, parse_float=_Number,
                                   parse_int=_Number, parse_constant=_Number)
            except _DuplicateKey as exc:
                rejected.append(Rejected(row, line_number, text, None,
                                         f"key {exc.args[0]!r} appears more than once"))
                continue
            except json.JSONDecodeError as exc:
                rejected.append(Rejected(row, line_number, text, None,
                                         f"not a JSON object: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(value, dict):
                rejected.append(Rejected(row, line_number, text, None,
                                         f"not a JSON object but a {type(value).__name__}"))
                continue
            records.append(value)
            rows.append(row)
            lines.append(line_number)
            raw.append(text)
            if len(records) >= JSON_LINES_PER_BATCH:
                yield _records_batch(records, rows, lines, raw, rejected)
                records, rows, lines, raw, rejected = [], [], [], [], []
    if records or rejected:
        yield _records_batch(records, rows, lines, raw, rejected)


def _parquet(path: Path, uri: str) -> Iterator[RawBatch]:
    try:
        parquet = pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise LandedFileError(f"{uri}: cannot be read as parquet: {_short(exc)}") from exc
    check_header(parquet.schema_arrow.names, uri)
    row = 0
    for record_batch in parquet.iter_batches(batch_size=PARQUET_ROWS_PER_BATCH):
        columns, nested = {}, {}
        for name, column in zip(record_batch.schema.names, record_batch.columns):
            name = name.strip()
            kind = column.type
            if pa.types.is_nested(kind):
                cells = [_cell(v) for v in column.to_pylist()]
                columns[name] = pa.array([c for c, _ in cells], pa.string())
                nested[name] = np.array([v is not None for v in column.to_pylist()])
            elif pa.types.is_floating(kind):
                # Arrow writes 1004.0 as "1004" (an id) and float32 values at their own
                # precision; NaN is no value.
                text = pc.cast(column, pa.string())
                columns[name] = pc.if_else(pc.is_nan(column), pa.scalar(None, pa.string()),
                                           text)
            elif pa.types.is_dictionary(kind):
                columns[name] = pc.cast(column.dictionary_decode(), pa.string())
            else:
                columns[name] = pc.cast(column, pa.string())
        table = pa.table(columns) if columns else pa.table({})
        count = record_batch.num_rows
        numbers = np.arange(row + 1, row + count + 1, dtype=np.int64)
        row += count
        records = table

        def raw(i: int, records=records) -> str:
            return json.dumps({n: c[i].as_py() for n, c in zip(records.column_names,
                                                             records.columns)}, default=str)
        yield RawBatch(table, numbers, None, raw, nested=nested)
