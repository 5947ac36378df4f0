"""`read_frame`: a downloaded object to a lazy frame with Druid-safe names and source lines."""

from __future__ import annotations

import csv
import gzip
import shutil
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import polars as pl

from ingest_pipeline.naming import describe_renames, druid_safe_column_names
from ingest_pipeline.reading.csv_types import (
    BLOCK_BYTES,
    ArrowCopy,
    arrow_slices,
    csv_blocks,
    decimal_comma_mode,
    read_block,
)
from ingest_pipeline.reading.detection import DetectedFormat, corrupt_gzip_error, detect_format
from ingest_pipeline.reading.footer import footer_note, trailing_totals
from ingest_pipeline.reading.layout import LineCheck, PlainHeader, plain_csv_header
from ingest_pipeline.reading.normalisation import (
    NormalisedCsv,
    normalise_csv,
    normalise_ndjson,
    preamble_notes,
    repeated_header_notes,
    wraps_records,
)
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected, RejectedRow


@dataclass
class ReadResult:
    # Druid-safe user column names plus LINE_COLUMN (source line of each row). Lazy: it scans
    # the normalised file in the work directory, which must live until the frame is collected
    # (a CSV of at most one block, 16 MiB, is held in memory instead).
    frame: pl.LazyFrame
    format: DetectedFormat
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blank_rows: int = 0
    normalized_path: Path | None = None
    # The rows of `frame` in order, at most n per DataFrame (only the given columns, if any),
    # read from the Arrow copy in bounded memory (CSV only: Polars' streaming CSV scan holds
    # memory that grows with the file). None: use `frame.collect_batches`.
    batches: Callable[..., Iterator[pl.DataFrame]] | None = None
    rows: int | None = None  # rows of `frame`, if known without a pass over it


def read_frame(
    path: str | Path,
    key: str,
    *,
    workdir: str | Path | None = None,
    decimal_comma: bool = False,
) -> ReadResult:
    """Parse a downloaded object into a lazy frame with source line numbers.

    `key` is the S3 object key, used in messages only. The normalised copy is written to
    `workdir` (default: the directory holding `path`, normally the caller's temp directory).
    `decimal_comma`: the dataset writes numbers like 1.639,68 (CSV; a ";" file's columns of
    values like 1639,68 are read as numbers anyway).
    """
    path = Path(path)
    workdir = Path(workdir) if workdir is not None else path.parent
    fmt = detect_format(path, key)
    readers: dict[str, Callable[[Path, str, DetectedFormat, Path], ReadResult]] = {
        "csv": partial(_read_csv, decimal_comma=decimal_comma),
        "ndjson": _read_ndjson,
        "json_array": _read_ndjson,
        "json_object": _read_ndjson,
    }
    reader = readers.get(fmt.format, _read_parquet)
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
            raise corrupt_gzip_error(key, error) from None
        raise


def _read_csv(
    path: Path,
    key: str,
    fmt: DetectedFormat,
    workdir: Path,
    careful: bool = False,
    decimal_comma: bool = False,
) -> ReadResult:
    """Plain files go to Polars as they are (see `layout`); others through `normalise_csv`.

    Either way the records are parsed block by block into Arrow files (`csv_types`).
    """
    folder = workdir / f"{path.name}.arrow"
    plain = None if careful else plain_csv_header(path, fmt)
    comma = decimal_comma_mode(fmt.delimiter, decimal_comma)
    if plain is not None:
        header = druid_safe_column_names(plain.fields)
        read = NormalisedCsv(plain.fields, header, [], 0, [], [], [])  # nothing to normalise
        several = path.stat().st_size > BLOCK_BYTES  # else kept in memory, without threads
        with ArrowCopy(folder, header, not several, comma) as copy:
            is_plain = _copy_plain_csv(path, plain, fmt.delimiter or ",", copy, several)
        if not is_plain:  # (after the copy's last write finished)
            return _read_csv(path, key, fmt, workdir, True, decimal_comma)
    else:
        normalized = workdir / f"{path.name}.normalized.csv"
        try:
            read = normalise_csv(path, key, fmt, normalized)
            header = read.header
        except csv.Error as error:
            raise FileRejected(
                key, f"the CSV cannot be parsed ({error})", "check the quoting"
            ) from None
        schema = dict.fromkeys([LINE_COLUMN, *header], pl.String())
        several = normalized.stat().st_size > BLOCK_BYTES
        with ArrowCopy(folder, header, not several, comma) as copy:
            for i, block in enumerate(csv_blocks(normalized)):
                text = read_block(block, schema, ",")
                text = text.slice(1) if i == 0 else text  # the header
                copy.add(text.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64)))
        normalized.unlink()
    casts = copy.casts()

    def typed(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.with_columns(casts)

    text_frame, rows, totals = _without_totals(
        copy.frame({LINE_COLUMN: pl.Int64(), **dict.fromkeys(header, pl.String())}), copy.rows
    )

    def batches(size: int, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        for part in arrow_slices(text_frame, size, rows):
            frame = typed(part)
            yield (frame if columns is None else frame.select(columns)).collect()

    notes = _csv_notes(read, header, totals) + copy.number_notes()
    return ReadResult(
        typed(text_frame), fmt, read.rejected, notes, read.blank_rows, folder, batches, rows
    )


def _csv_notes(
    read: NormalisedCsv, header: list[str], totals: Sequence[tuple[int, list[str]]]
) -> list[str]:
    """What a person should know of how the CSV was read: renames, lines that are no rows."""
    footer = [*((line, line, values) for line, values in totals), *read.footer]
    notes = _notes(read.raw_header, header, read.blank_rows) + preamble_notes(read.preamble)
    return notes + repeated_header_notes(read.repeated_headers) + footer_note(footer)


def _without_totals(
    text_frame: pl.LazyFrame, rows: int
) -> tuple[pl.LazyFrame, int, list[tuple[int, list[str]]]]:
    """The rows above a totals row ending the table (see `footer`), their count, the totals."""
    totals = trailing_totals(text_frame, rows) if rows else []
    return (
        (text_frame.head(rows - len(totals)) if totals else text_frame),
        rows - len(totals),
        totals,
    )


def _copy_plain_csv(
    path: Path, plain: PlainHeader, delimiter: str, copy: ArrowCopy, threaded: bool
) -> bool:
    """Parse the data lines of a plain CSV into `copy`; False as soon as a block is not plain
    (a line that may repeat the header is not: the careful path skips it and says so).

    If `threaded`, each block's `LineCheck` runs on a thread while Polars parses it (both
    release the GIL); else first, so that a block that is not plain is not parsed.
    """
    check = LineCheck(delimiter, len(copy.columns))
    # The header's first name as a first value (with a joined file's byte-order mark or not):
    # maybe the header again, which the careful path decides and skips (one column compared).
    first, name = pl.col(copy.columns[0]), plain.fields[0]
    maybe_header = (first == name) | (first == "\ufeff" + name)
    schema: dict[str, pl.DataType] = dict.fromkeys(copy.columns, pl.String())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-check") as checker:
        for block in csv_blocks(path, plain.size):
            checked = checker.submit(check.check, block) if threaded else None
            if checked is None and not check.check(block):
                return False
            try:
                text: pl.DataFrame | None = read_block(block, schema, delimiter)
            except pl.exceptions.PolarsError:
                text = None
            if checked is not None and not checked.result():
                return False
            if text is None or text.height != check.block_lines:
                return False
            if text.select(maybe_header.any()).item():
                return False
            # line 1 is the header; in a plain file record n is on line n + 1
            lines = pl.int_range(2 + copy.rows, 2 + copy.rows + text.height, dtype=pl.Int64)
            copy.add(text.select(lines.alias(LINE_COLUMN), pl.all()))
    return check.plain


def _read_ndjson(path: Path, key: str, fmt: DetectedFormat, workdir: Path) -> ReadResult:
    out = workdir / f"{path.name}.normalized.ndjson"
    if fmt.format == "ndjson" and wraps_records(path, fmt):
        fmt = replace(fmt, format="json_object")
    wrapper: list[str] = []  # what a wrapping JSON object holds besides its records
    keys, rejected, blank_rows, rows = normalise_ndjson(path, key, fmt, out, wrapper)
    names = druid_safe_column_names(keys)
    if rows == 0:  # Polars cannot infer a schema from an empty file
        schema = {LINE_COLUMN: pl.Int64, **dict.fromkeys(names, pl.String)}
        frame = pl.LazyFrame(schema=schema)
    else:
        frame = pl.scan_ndjson(out, infer_schema_length=None).select(
            pl.col(LINE_COLUMN).cast(pl.Int64),
            *[pl.col(f"c{i}").alias(name) for i, name in enumerate(names)],
        )
    notes = wrapper + _notes(keys, names, blank_rows)
    return ReadResult(frame, fmt, rejected, notes, blank_rows, out)


def _read_parquet(path: Path, key: str, fmt: DetectedFormat, workdir: Path) -> ReadResult:
    source, normalized = path, None
    if fmt.compression == "gzip":  # rare, but Polars cannot scan gzip'd Parquet
        normalized = source = workdir / f"{path.name}.parquet"
        try:
            with gzip.open(path, "rb") as packed, source.open("wb") as unpacked:
                shutil.copyfileobj(packed, unpacked)
        except (OSError, EOFError, zlib.error) as error:
            raise corrupt_gzip_error(key, error) from None
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
