"""Whether a CSV can go to Polars as it is, without the Python normalisation pass.

`normalisation.normalise_csv` (Python, per line) does what Polars cannot: latin-1/UTF-16 and
gzip, ragged rows and blank rows reported by line, quoted line breaks (row index is then not
line number), stray quotes. Most uploads have none of these. A file is *plain* when:

- it is uncompressed UTF-8 (with or without BOM), valid throughout (Polars refuses otherwise);
- every line (split at LF only) is one complete record with the header's field count, by the
  RFC 4180 grammar (`_record_pattern`): quotes only around whole fields, "" inside them, no
  CR except in a final CRLF; so no record spans lines and line n holds record n - 1;
- no line is blank (only delimiters, quotes, CR), no byte is NUL, and Polars saw every line.

The check is a Polars pass over the lines (`line_check`), run together with the pass that
reads the file (see `frames`); `is_plain` judges its result. Any doubt answers "not plain" and
the careful path runs: the verdict never changes what is read, only how fast.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path
from typing import Final

import polars as pl

from ingest_pipeline.reading.detection import DetectedFormat

_HEADER_BYTES: Final = 1 << 20  # a longer header line takes the careful path
_COUNT_BYTES: Final = 1 << 22
_LINE: Final = "line"


def plain_csv_header(path: Path, fmt: DetectedFormat) -> list[str] | None:
    """The header's fields if the file may be plain (its first line is read), else None."""
    delimiter = fmt.delimiter or ","
    if (
        fmt.format != "csv"
        or fmt.compression is not None
        or fmt.encoding not in ("utf-8", "utf-8-sig")
        or len(delimiter.encode()) != 1
        or delimiter in '"\r\n'
    ):
        return None
    with path.open("rb") as source:
        first = source.readline(_HEADER_BYTES)
    if not first.endswith(b"\n"):
        return None  # no data line, or a giant header
    try:
        text = first.decode(fmt.encoding)
    except UnicodeDecodeError:
        return None
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return header or None


def _record_pattern(delimiter: str, fields: int) -> str:
    d = re.escape(delimiter)
    field = f'(?:[^"{d}\\r\\n]*|"(?:[^"\\r]|"")*")'
    return f"^{field}(?:{d}{field}){{{fields - 1}}}\\r?$"


def line_check(path: Path, delimiter: str, fields: int) -> pl.LazyFrame:
    """One row: how many lines Polars read, and whether each is a record of `fields` fields."""
    lines = pl.scan_csv(
        path,
        has_header=False,
        separator="\x00",  # never in a text file: each line is one value
        quote_char=None,
        schema={_LINE: pl.String},
    )
    line = pl.col(_LINE).fill_null("")
    return lines.select(
        lines=pl.len(),
        records=line.str.contains(_record_pattern(delimiter, fields)).all(),
        blank=line.str.contains(f'^[{re.escape(delimiter)}"\\r]*$').any(),
    )


def count_lines(path: Path, fmt: DetectedFormat) -> int | None:
    """Lines in the file (line feeds, plus one for a last line without one); None if the file
    holds a NUL byte (text never does; Polars and the csv module would disagree on it)."""
    count, last = 0, b"\n"
    with path.open("rb") as source:
        if fmt.encoding == "utf-8-sig":
            source.read(len(codecs.BOM_UTF8))
        while chunk := source.read(_COUNT_BYTES):
            if b"\x00" in chunk:
                return None
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def is_plain(check: pl.DataFrame, lines: int | None) -> bool:
    """Judge `line_check`'s result against `count_lines`: at least one data line, all sound."""
    row = check.row(0, named=True)
    return (
        lines is not None
        and row["lines"] == lines >= 2
        and bool(row["records"])
        and not row["blank"]
    )
