"""Detect and parse an uploaded file (pure: the caller downloads the S3 object to a local file).

CSV and NDJSON go through one streaming Python pass (bounded memory) before Polars sees them.
That pass does what Polars cannot: decode latin-1/UTF-16 and gzip without loading the whole
file, find ragged rows or bad JSON lines and report them by source line, and record the source
line of every kept row (quoted newlines make row index != line number). It writes a normalised
UTF-8 file next to the download, which Polars then scans lazily. Column types are inferred over
the whole file, by us, from text (see `_infer_csv_types`), so late `NA`s or decimals cannot
break the read the way Polars' 100-row inference does.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import math
import shutil
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal, TextIO

import polars as pl

from ingest_pipeline.naming import describe_renames, druid_safe_column_names
from ingest_pipeline.vocabulary import LINE_COLUMN, NULL_MARKERS, FileRejected, RejectedRow

Format = Literal["csv", "ndjson", "parquet"]
Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "utf-16"]

SAMPLE_BYTES = 64 * 1024  # enough for a header and dozens of rows; cheap to read twice
DELIMITERS = (",", ";", "\t", "|")  # preference order when two are equally consistent
_SNIFF_RECORDS = 50
_CSV_EXTENSIONS = {".csv", ".tsv", ".txt", ".psv", ".tab"}
_JSON_EXTENSIONS = {".json", ".ndjson", ".jsonl"}
_PARQUET_EXTENSIONS = {".parquet", ".pq"}
_GZIP_EXTENSIONS = {".gz", ".gzip"}
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
# Control characters (other than tab, newlines, form feed) are rare in text, common in binary.
_MAX_CONTROL_SHARE = 0.05
_CONTROL = {chr(c) for c in range(32)} - set("\t\n\r\f\v") | {"\x7f"}

# Python's csv module refuses fields over 128 KiB by default; a "giant line" is still data.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class DetectedFormat:
    format: Format
    compression: Literal["gzip"] | None = None
    delimiter: str | None = None  # CSV only
    encoding: Encoding = "utf-8"


@dataclass
class ReadResult:
    # Druid-safe user column names plus LINE_COLUMN (source line of each row). Lazy: it scans
    # the normalised file in the work directory, which must live until the frame is collected.
    frame: pl.LazyFrame
    format: DetectedFormat
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blank_rows: int = 0
    normalized_path: Path | None = None
    # The rows of `frame` in order, at most n per DataFrame, read from the normalised file in
    # bounded memory (CSV only: Polars' streaming CSV scan holds memory that grows with the
    # file). None: use `frame.collect_batches`.
    batches: Callable[[int], Iterator[pl.DataFrame]] | None = None


# --------------------------------------------------------------------------- detection


def _extension(key: str) -> tuple[str, bool]:
    """Return (format extension, has .gz) of an object key, e.g. 'a/b.CSV.gz' -> ('.csv', True)."""
    suffixes = [s.lower() for s in PurePosixPath(key).suffixes]
    gz = bool(suffixes) and suffixes[-1] in _GZIP_EXTENSIONS
    if gz:
        suffixes.pop()
    return (suffixes[-1] if suffixes else ""), gz


def _read_head(path: Path, key: str, compressed: bool) -> bytes:
    if not compressed:
        with path.open("rb") as handle:
            return handle.read(SAMPLE_BYTES)
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as error:
        raise _corrupt_gzip(key, error) from None


def _corrupt_gzip(key: str, error: BaseException) -> FileRejected:
    return FileRejected(
        key,
        f"the gzip data is corrupt or truncated ({error})",
        "compress the file again (gzip) or upload it uncompressed",
    )


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    controls = sum(1 for char in text if char in _CONTROL)
    return controls / len(text) > _MAX_CONTROL_SHARE


def _binary_error(key: str) -> FileRejected:
    return FileRejected(
        key,
        "the file is binary, not text (NUL bytes or control characters)",
        "upload CSV, newline-delimited JSON or Parquet; if this is UTF-16 text, save it with a "
        "byte-order mark or as UTF-8",
    )


def _detect_encoding(head: bytes, key: str) -> tuple[Encoding, str]:
    """Pick an encoding from the first bytes and return it with the decoded sample."""
    encoding: Encoding
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise _binary_error(key)
    else:
        encoding = "utf-8"
    try:
        # Incremental, non-final: a multi-byte character cut at the sample's end is no error.
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise _binary_error(key) from None
        encoding, text = "latin-1", head.decode("latin-1")  # latin-1 decodes any byte
    # Only a guessed encoding needs the control-character test: binary data is practically
    # never valid UTF-8, while real UTF-8 text may legitimately hold a few control characters.
    if encoding in ("latin-1", "utf-16") and _looks_binary(text):
        raise _binary_error(key)
    return encoding, text


def _sniff_delimiter(sample: str, truncated: bool, prefer_tab: bool) -> str:
    """The delimiter that splits the header into most fields, consistently over the sample."""
    best: tuple[float, int, int] | None = None
    chosen = ","
    order = ("\t", *[d for d in DELIMITERS if d != "\t"]) if prefer_tab else DELIMITERS
    for rank, delimiter in enumerate(order):
        try:
            records = [
                r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if r
            ]
        except csv.Error:
            continue
        if truncated and len(records) > 1:
            records.pop()  # the sample probably cut the last record short
        records = records[:_SNIFF_RECORDS]
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        consistency = sum(len(r) == width for r in records) / len(records)
        score = (consistency, width, -rank)
        if best is None or score > best:
            best, chosen = score, delimiter
    return chosen


def detect_format(path: str | Path, key: str) -> DetectedFormat:
    """Detect format, compression, encoding and (for CSV) delimiter of a downloaded object.

    Order: magic bytes (gzip, Parquet, ZIP), then the key's extension, then the content.
    """
    path = Path(path)
    with path.open("rb") as handle:
        magic = handle.read(4)
    if not magic:
        raise FileRejected(
            key, "the file is empty (0 bytes)", "upload a file with a header row and data"
        )
    compression: Literal["gzip"] | None = "gzip" if magic.startswith(_GZIP_MAGIC) else None
    head = _read_head(path, key, compression == "gzip")
    extension, _ = _extension(key)

    if head.startswith(_PARQUET_MAGIC):
        return DetectedFormat("parquet", compression)
    if head.startswith(_ZIP_MAGIC):
        raise FileRejected(
            key,
            "the file is a ZIP archive (or an Excel workbook)",
            "export the sheet as CSV, or unzip and upload the files inside",
        )
    if extension in _PARQUET_EXTENSIONS:
        raise FileRejected(
            key,
            "the file is named Parquet but has no Parquet header",
            "upload a valid Parquet file",
        )

    encoding, text = _detect_encoding(head, key)
    content = text.lstrip()
    if not content:
        raise FileRejected(
            key, "the file contains no data (only whitespace)", "upload a file with data"
        )
    if extension in _JSON_EXTENSIONS or (extension not in _CSV_EXTENSIONS and content[0] in "[{"):
        if content[0] == "[":
            raise FileRejected(
                key,
                "the file is a JSON array, which Druid batch ingestion does not read",
                "convert to newline-delimited JSON (one object per line)",
            )
        if content[0] != "{":
            raise FileRejected(
                key,
                "the file is named JSON but does not start with a JSON object",
                "upload newline-delimited JSON (one object per line)",
            )
        return DetectedFormat("ndjson", compression, None, encoding)

    truncated = len(head) == SAMPLE_BYTES
    delimiter = _sniff_delimiter(text, truncated, prefer_tab=extension in {".tsv", ".tab"})
    return DetectedFormat("csv", compression, delimiter, encoding)


# --------------------------------------------------------------------------- normalisation


@contextmanager
def _open_text(path: Path, fmt: DetectedFormat) -> Iterator[TextIO]:
    raw = gzip.open(path, "rb") if fmt.compression == "gzip" else path.open("rb")
    # newline="" keeps quoted CR/LF inside fields intact for the csv module.
    with raw, io.TextIOWrapper(raw, encoding=fmt.encoding, newline="") as text:
        yield text


def _normalise_csv(
    path: Path, key: str, fmt: DetectedFormat, out: Path
) -> tuple[list[str], list[str], list[RejectedRow], int]:
    """Stream the CSV into `out` (UTF-8, comma, all fields quoted, LINE_COLUMN first)."""
    rejected: list[RejectedRow] = []
    blank_rows = 0
    raw_header: list[str] = []
    header: list[str] | None = None
    with _open_text(path, fmt) as text, out.open("w", encoding="utf-8", newline="") as sink:
        # QUOTE_ALL: the csv module leaves a lone CR unquoted; Polars would take it as a line end.
        writer = csv.writer(sink, quoting=csv.QUOTE_ALL, lineterminator="\n")
        reader = csv.reader(text, delimiter=fmt.delimiter or ",")
        previous_end = 0
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not record or all(value == "" for value in record):
                if header is not None:  # blank lines before the header are not rows
                    blank_rows += 1
                continue
            if header is None:
                raw_header, header = record, druid_safe_column_names(record)
                writer.writerow([LINE_COLUMN, *header])
                continue
            if len(record) != len(header):
                span = f" (it spans lines {start}-{previous_end}: look for an unmatched quote)"
                rejected.append(
                    RejectedRow(
                        start,
                        f"has {len(record)} fields but the header has {len(header)}"
                        + (span if previous_end > start else ""),
                    )
                )
                continue
            writer.writerow([start, *record])
    if header is None:
        raise FileRejected(
            key, "the file contains no header row", "upload a file with a header row"
        )
    return raw_header, header, rejected, blank_rows


def _json_scalar(value: Any) -> Any:
    """Flatten a JSON value to something one Druid dimension can hold."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/Infinity are not JSON; Druid cannot store them
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)  # beyond Druid's long: keep the digits as text
    return value


def _normalise_ndjson(
    path: Path, fmt: DetectedFormat, out: Path
) -> tuple[list[str], list[RejectedRow], int, int]:
    """Stream NDJSON into `out`: nested values as JSON text, keys as c0..cN, LINE_COLUMN added.

    Keys are renamed positionally because Druid-safe names depend on every key in the file
    (dedupe), which is known only at the end; the caller renames c0..cN afterwards.
    """
    keys: dict[str, str] = {}
    rejected: list[RejectedRow] = []
    blank_rows = rows = 0
    with _open_text(path, fmt) as text, out.open("w", encoding="utf-8") as sink:
        for line_number, line in enumerate(text, start=1):
            if not line.strip():
                blank_rows += 1
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                rejected.append(
                    RejectedRow(line_number, f"invalid JSON: {error.msg} at column {error.colno}")
                )
                continue
            if not isinstance(record, dict):
                kind = type(record).__name__
                rejected.append(RejectedRow(line_number, f"expected a JSON object, found a {kind}"))
                continue
            if not record:
                blank_rows += 1
                continue
            row: dict[str, Any] = {LINE_COLUMN: line_number}
            for name, value in record.items():
                row[keys.setdefault(name, f"c{len(keys)}")] = _json_scalar(value)
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            rows += 1
    return list(keys), rejected, blank_rows, rows


def _csv_options() -> dict[str, Any]:
    # How Polars reads the normalised CSV, scanned whole or in chunks: every column as text.
    return {
        "infer_schema": False,
        "null_values": list(NULL_MARKERS),
        "quote_char": '"',
        "has_header": True,
    }


def _csv_chunks(path: Path, rows: int) -> Iterator[pl.DataFrame]:
    """The normalised CSV at `path`, `rows` records at a time, as text columns.

    Python finds the record ends (every field is quoted, so a line ends a record when the quotes
    so far are balanced) and Polars parses each chunk: memory stays at about one chunk.
    """
    with path.open("rb") as source:
        header = source.readline()
        lines: list[bytes] = []
        records = quotes = 0
        for line in source:
            lines.append(line)
            quotes += line.count(b'"')
            if quotes % 2 == 0:
                records += 1
                if records == rows:
                    yield pl.read_csv(io.BytesIO(header + b"".join(lines)), **_csv_options())
                    lines, records = [], 0
        if lines:
            yield pl.read_csv(io.BytesIO(header + b"".join(lines)), **_csv_options())


_INFER_ROWS = 200_000  # rows per chunk of the type inference pass


def _infer_csv_types(out: Path, columns: list[str]) -> list[pl.Expr]:
    """Casts of text columns to Int64/Float64 where every non-null value in the file allows it.

    One pass over the whole file decides, chunk by chunk; nothing is guessed from a prefix.
    Values with leading zeros ("007", zip codes) and integers beyond Int64 stay text, so no
    digits are lost.
    """
    if not columns:
        return []
    checks = []
    for i, name in enumerate(columns):
        text = pl.col(name)
        checks += [
            text.is_not_null().sum().alias(f"n{i}"),
            text.str.contains(r"^[+-]?\d+$").sum().alias(f"intlike{i}"),
            text.str.to_integer(strict=False).is_not_null().sum().alias(f"int{i}"),
            text.cast(pl.Float64, strict=False).is_not_null().sum().alias(f"float{i}"),
            text.str.contains(r"^[+-]?0\d").any().alias(f"zero{i}"),
        ]
    stats: dict[str, Any] = {}
    for chunk in _csv_chunks(out, _INFER_ROWS):
        for name, value in chunk.select(checks).row(0, named=True).items():
            if name.startswith("zero"):
                stats[name] = stats.get(name, False) or value
            else:
                stats[name] = stats.get(name, 0) + value
    casts = []
    for i, name in enumerate(columns):
        present = stats.get(f"n{i}", 0)
        if present == 0 or stats[f"zero{i}"]:
            continue
        if stats[f"intlike{i}"] == present:
            if stats[f"int{i}"] == present:
                casts.append(pl.col(name).str.to_integer())
        elif stats[f"float{i}"] == present:
            casts.append(pl.col(name).cast(pl.Float64))
    return casts


def _read_csv(path: Path, key: str, fmt: DetectedFormat, workdir: Path) -> ReadResult:
    out = workdir / f"{path.name}.normalized.csv"
    try:
        raw_header, header, rejected, blank_rows = _normalise_csv(path, key, fmt, out)
    except csv.Error as error:
        raise FileRejected(
            key, f"the CSV cannot be parsed ({error})", "check the quoting"
        ) from None
    casts = _infer_csv_types(out, header)

    def typed(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64)).with_columns(casts)

    def batches(rows: int) -> Iterator[pl.DataFrame]:
        for chunk in _csv_chunks(out, rows):
            yield typed(chunk.lazy()).collect()

    frame = typed(pl.scan_csv(out, **_csv_options()))
    notes = _notes(raw_header, header, blank_rows)
    return ReadResult(frame, fmt, rejected, notes, blank_rows, out, batches)


def _read_ndjson(path: Path, key: str, fmt: DetectedFormat, workdir: Path) -> ReadResult:
    out = workdir / f"{path.name}.normalized.ndjson"
    keys, rejected, blank_rows, rows = _normalise_ndjson(path, fmt, out)
    names = druid_safe_column_names(keys)
    if rows == 0:  # Polars cannot infer a schema from an empty file
        schema = {LINE_COLUMN: pl.Int64, **dict.fromkeys(names, pl.String)}
        frame = pl.LazyFrame(schema=schema)
    else:
        frame = pl.scan_ndjson(out, infer_schema_length=None).select(
            pl.col(LINE_COLUMN).cast(pl.Int64),
            *[pl.col(f"c{i}").alias(name) for i, name in enumerate(names)],
        )
    return ReadResult(frame, fmt, rejected, _notes(keys, names, blank_rows), blank_rows, out)


def _read_parquet(path: Path, key: str, fmt: DetectedFormat, workdir: Path) -> ReadResult:
    source, normalized = path, None
    if fmt.compression == "gzip":  # rare, but Polars cannot scan gzip'd Parquet
        normalized = source = workdir / f"{path.name}.parquet"
        try:
            with gzip.open(path, "rb") as packed, source.open("wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
        except (OSError, EOFError, zlib.error) as error:
            raise _corrupt_gzip(key, error) from None
    frame = pl.scan_parquet(source)
    try:
        columns = frame.collect_schema().names()
    except pl.exceptions.PolarsError as error:
        raise FileRejected(
            key,
            f"the Parquet file cannot be read ({error})",
            "write the file again with a standard Parquet writer",
        ) from None
    names = druid_safe_column_names(columns)
    # Parquet has no lines: LINE_COLUMN is the 1-based row number.
    frame = frame.rename(dict(zip(columns, names, strict=True))).with_row_index(
        LINE_COLUMN, offset=1
    )
    frame = frame.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
    return ReadResult(frame, fmt, warnings=_notes(columns, names, 0), normalized_path=normalized)


def _notes(raw_names: list[str], names: list[str], blank_rows: int) -> list[str]:
    notes = []
    renamed = describe_renames(raw_names, names)
    if renamed:
        notes.append(renamed)
    if blank_rows:
        notes.append(f"skipped {blank_rows} blank rows")
    return notes


def read_frame(path: str | Path, key: str, *, workdir: str | Path | None = None) -> ReadResult:
    """Parse a downloaded object into a lazy frame with source line numbers.

    `key` is the S3 object key, used in messages only. The normalised copy is written to
    `workdir` (default: the directory holding `path`, normally the caller's temp directory).
    """
    path = Path(path)
    workdir = Path(workdir) if workdir is not None else path.parent
    fmt = detect_format(path, key)
    reader = {"csv": _read_csv, "ndjson": _read_ndjson}.get(fmt.format, _read_parquet)
    try:
        try:
            return reader(path, key, fmt, workdir)
        except UnicodeDecodeError as error:
            if fmt.encoding != "utf-8":
                raise FileRejected(
                    key,
                    f"the file is not valid {fmt.encoding} text ({error.reason})",
                    "save the file as UTF-8",
                ) from None
            # Valid UTF-8 in the sample, not later: the file is most likely latin-1 throughout.
            result = reader(path, key, replace(fmt, encoding="latin-1"), workdir)
            result.warnings.append(
                "the file is not UTF-8 after the first 64 KiB: read it as latin-1"
            )
            return result
    except (OSError, EOFError, zlib.error) as error:
        if fmt.compression == "gzip" and not isinstance(error, FileNotFoundError):
            raise _corrupt_gzip(key, error) from None
        raise
