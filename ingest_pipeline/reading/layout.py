"""Whether a CSV can go to Polars as it is, without the Python normalisation pass.

`normalisation.normalise_csv` (Python, per line) does what Polars cannot: latin-1/UTF-16 and
gzip, ragged rows and blank rows reported by line, quoted line breaks (row index is then not
line number), stray quotes. Most uploads have none of these. A file is *plain* when:

- it is uncompressed UTF-8 (with or without BOM), valid throughout (Polars refuses otherwise);
- every line (split at LF only) is one complete record with the header's field count, by the
  RFC 4180 grammar (`_record_pattern`): quotes only around whole fields, "" inside them, no
  CR except in a final CRLF; so no record spans lines and line n holds record n - 1;
- no line is blank (only delimiters, quotes, CR), no byte is NUL, and Polars saw every line.

The check (`LineCheck`) runs on each block of lines as the reader parses it (see
`csv_types.csv_blocks`), so the file is read once; a failed block stops the plain read. Any
doubt answers "not plain" and the careful path runs: the verdict never changes what is read,
only how fast.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Final, NamedTuple

import polars as pl

from ingest_pipeline.reading.detection import DetectedFormat
from ingest_pipeline.reading.preamble import is_sep_directive

_HEADER_BYTES: Final = 1 << 20  # a longer header line takes the careful path
_LINE: Final = "line"


class PlainHeader(NamedTuple):
    fields: list[str]
    size: int  # bytes of the header line, BOM included: where the data starts


def plain_csv_header(path: Path, fmt: DetectedFormat) -> PlainHeader | None:
    """The header if the file may be plain (only its first line is read), else None."""
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
    if is_sep_directive(header):
        return None  # Excel's `sep=;` line: the careful path skips it
    return PlainHeader(header, len(first)) if header else None


def _record_pattern(delimiter: str, fields: int) -> str:
    d = re.escape(delimiter)
    field = f'(?:[^"{d}\\r\\n]*|"(?:[^"\\r]|"")*")'
    return f"^{field}(?:{d}{field}){{{fields - 1}}}\\r?$"


class LineCheck:
    """`check` every block of the data lines (after the header); `plain` is the verdict."""

    def __init__(self, delimiter: str, fields: int) -> None:
        self._delimiter = delimiter
        self._record = _record_pattern(delimiter, fields)
        self._blank = f'^[{re.escape(delimiter)}"\\r]*$'
        self.lines = 0
        self.block_lines = 0  # lines of the last block checked
        self.sound = True

    def check(self, block: bytes) -> bool:
        """Whether every line of `block` (whole lines) is a plain record; False is final."""
        if not self.sound:
            return False
        expected = block.count(b"\n") + (not block.endswith(b"\n"))
        if b"\x00" in block:  # text never holds NUL; Polars and the csv module disagree on it
            self.sound = False
            return False
        try:
            lines = pl.read_csv(
                block,
                has_header=False,
                separator="\x00",  # never in the block: each line is one value
                quote_char=None,
                schema={_LINE: pl.String},
            )
        except pl.exceptions.PolarsError:  # e.g. invalid UTF-8
            self.sound = False
            return False
        line = pl.col(_LINE).fill_null("")
        row = lines.select(
            records=line.str.contains(self._record).all(),
            blank=line.str.contains(self._blank).any(),
        ).row(0)
        self.lines += lines.height
        self.block_lines = lines.height
        self.sound = lines.height == expected and bool(row[0]) and not row[1]
        return self.sound

    @property
    def plain(self) -> bool:
        return self.sound and self.lines >= 1
