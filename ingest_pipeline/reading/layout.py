"""A cheap, vectorised check that a CSV can go to Polars as it is, without normalising it.

`normalisation.normalise_csv` (a Python pass per line) is needed for what Polars cannot do:
latin-1/UTF-16, ragged rows reported by line, blank rows, quoted newlines (row index is then
not line number), stray quotes. Most uploads have none of these. `clean_csv_header` scans the
raw bytes with numpy, a few MiB at a time, and answers the header when the file is plain:

- uncompressed UTF-8 (with or without BOM), valid throughout, no NUL bytes;
- every quote opens at a field start and closes at a field end (RFC 4180, "" inside quotes);
- no line break inside quotes, no CR other than in CRLF (line n is record n-1, exactly);
- every line has the header's field count (delimiters outside quotes), none is blank
  (only delimiters, quotes or CR), and there is at least one data line.

Any doubt answers None, and the careful path runs: the answer never changes what is read.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np

from ingest_pipeline.reading.detection import DetectedFormat

CHUNK_BYTES: Final = 4 * 1024 * 1024  # numpy temporaries are ~6x this: bounded memory
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")


class CleanCsv(NamedTuple):
    header: list[str]  # the header's fields, as the csv module reads them
    data_lines: int  # lines after the header: exactly the rows Polars will read


def clean_csv_header(path: Path, fmt: DetectedFormat) -> CleanCsv | None:
    """The header and data line count if Polars can read `path` as it is, else None."""
    delimiter = fmt.delimiter or ","
    if (
        fmt.format != "csv"
        or fmt.compression is not None
        or fmt.encoding not in ("utf-8", "utf-8-sig")
        or len(delimiter.encode()) != 1
    ):
        return None
    scan = _LayoutScan(ord(delimiter))
    decoder = codecs.getincrementaldecoder("utf-8")()
    first_line = bytearray()
    with path.open("rb") as source:
        if fmt.encoding == "utf-8-sig":
            source.read(len(codecs.BOM_UTF8))
        while chunk := source.read(CHUNK_BYTES):
            if len(first_line) < 1 << 20 and not scan.lines:
                first_line += chunk[: chunk.find(b"\n") + 1 or len(chunk)]
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return None
            if not scan.feed(np.frombuffer(chunk, dtype=np.uint8)):
                return None
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    if not scan.finish() or scan.lines < 2:
        return None
    header_text = bytes(first_line).decode("utf-8").rstrip("\r\n")
    header = next(csv.reader(io.StringIO(header_text, newline=""), delimiter=delimiter), [])
    if len(header) != scan.fields:
        return None
    return CleanCsv(header, scan.lines - 1)


class _LayoutScan:
    """The state carried from one chunk of bytes to the next."""

    def __init__(self, delimiter: int) -> None:
        self.delimiter = delimiter
        self.inside = 0  # 1: the last byte seen is inside quotes
        self.previous = _LF  # the last byte seen (the start of the file acts as a line start)
        self.line_delimiters = 0  # delimiters outside quotes on the current, unfinished line
        self.line_content = 0  # bytes other than delimiters, quotes, CR on that line
        self.line_bytes = 0
        self.pending_quote_close = False  # the chunk ended on a closing quote: check next byte
        self.pending_cr = False  # the chunk ended on CR: the next byte must be LF
        self.fields: int | None = None  # the header's field count
        self.lines = 0  # complete lines (a final line without LF counts at `finish`)

    def feed(self, b: np.ndarray) -> bool:
        if not len(b):
            return True
        if (b == 0).any():
            return False
        if self.pending_cr and b[0] != _LF:
            return False
        if self.pending_quote_close and b[0] not in (self.delimiter, _CR, _LF, _QUOTE):
            return False
        is_quote = b == _QUOTE
        # parity after each byte: 1 inside a quoted field (a quote byte counts itself)
        inside = np.bitwise_xor.accumulate(is_quote.view(np.uint8)) ^ np.uint8(self.inside)
        quotes = np.flatnonzero(is_quote)
        if len(quotes):
            before = np.where(quotes > 0, b[np.maximum(quotes - 1, 0)], self.previous)
            after_pos = quotes + 1
            has_after = after_pos < len(b)
            after = b[np.minimum(after_pos, len(b) - 1)]
            opens = inside[quotes] == 1
            start_ok = (before == self.delimiter) | (before == _LF) | (before == _QUOTE)
            if not start_ok[opens].all():
                return False
            closes = ~opens & has_after
            end_ok = (after == self.delimiter) | (after == _CR) | (after == _LF) | (after == _QUOTE)
            if not end_ok[closes].all():
                return False
            self.pending_quote_close = bool(not opens[-1] and not has_after[-1])
        else:
            self.pending_quote_close = False
        crs = np.flatnonzero(b == _CR)
        if len(crs):
            following = crs + 1
            inner = following < len(b)
            if not (b[following[inner]] == _LF).all():
                return False
            self.pending_cr = bool(not inner[-1])
        else:
            self.pending_cr = False
        ends = np.flatnonzero(b == _LF)
        if len(ends) and inside[ends].any():
            return False  # a line break inside quotes
        delimiters = np.cumsum((b == self.delimiter) & (inside == 0), dtype=np.int64)
        content = np.cumsum(
            ~((b == self.delimiter) | is_quote | (b == _CR) | (b == _LF)), dtype=np.int64
        )
        if len(ends):
            per_line_delimiters = np.diff(delimiters[ends], prepend=0)
            per_line_content = np.diff(content[ends], prepend=0)
            per_line_delimiters[0] += self.line_delimiters
            per_line_content[0] += self.line_content
            if not self._lines_ok(per_line_delimiters, per_line_content):
                return False
            last = ends[-1]
            self.line_delimiters = int(delimiters[-1] - delimiters[last])
            self.line_content = int(content[-1] - content[last])
            self.line_bytes = len(b) - last - 1
        else:
            self.line_delimiters += int(delimiters[-1])
            self.line_content += int(content[-1])
            self.line_bytes += len(b)
        self.inside = int(inside[-1])
        self.previous = int(b[-1])
        return True

    def _lines_ok(self, delimiters: np.ndarray, content: np.ndarray) -> bool:
        if self.fields is None:
            self.fields = int(delimiters[0]) + 1
        self.lines += len(delimiters)
        return bool((delimiters == self.fields - 1).all() and (content > 0).all())

    def finish(self) -> bool:
        if self.inside or self.pending_cr:
            return False
        if self.line_bytes:  # a last line without a line feed
            return self._lines_ok(np.array([self.line_delimiters]), np.array([self.line_content]))
        return self.fields is not None
