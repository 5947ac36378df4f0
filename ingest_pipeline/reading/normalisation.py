"""One streaming Python pass over CSV/NDJSON text: a normalised UTF-8 copy Polars can scan.

It does what Polars cannot: decode latin-1/UTF-16 and gzip without loading the whole file,
find ragged rows or bad JSON lines and report them by source line, and record the source line
of every kept row (quoted newlines make row index != line number).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from ingest_pipeline.naming import druid_safe_column_names
from ingest_pipeline.reading.detection import DetectedFormat
from ingest_pipeline.reading.footer import FOOTER_MAX_RECORDS, is_note, is_totals
from ingest_pipeline.reading.json_stream import (
    are_records,
    json_array_elements,
    json_wrapped_records,
)
from ingest_pipeline.reading.preamble import quoted_lines, table_start
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected, RejectedRow

# Python's csv module refuses fields over 128 KiB by default; a "giant line" is still data.
csv.field_size_limit(2**31 - 1)


@contextmanager
def _open_text(path: Path, fmt: DetectedFormat) -> Iterator[TextIO]:
    raw = gzip.open(path, "rb") if fmt.compression == "gzip" else path.open("rb")
    # newline="" keeps quoted CR/LF inside fields intact for the csv module.
    with raw, io.TextIOWrapper(raw, encoding=fmt.encoding, newline="") as text:
        yield text


PREAMBLE_PROBE = 50  # records examined for a title above the header (see preamble.py)


class CsvRecord(NamedTuple):
    start: int  # its first line
    end: int  # its last line (a quoted line break makes it longer than one)
    fields: list[str]


def preamble_notes(preamble: Sequence[CsvRecord]) -> list[str]:
    """What a person should know of the lines skipped above the header (see table_start)."""
    if not preamble:
        return []
    lines, quoted = quoted_lines(preamble)
    return [f"skipped {lines} above the header as a title, not rows: {quoted}"]


def _non_blank_records(reader: Any) -> Iterator[CsvRecord | None]:
    """Each record with its lines; None for a blank one."""
    previous_end = 0
    for fields in reader:
        start, previous_end = previous_end + 1, reader.line_num
        blank = not fields or all(value == "" for value in fields)
        yield None if blank else CsvRecord(start, previous_end, fields)


class NormalisedCsv(NamedTuple):
    raw_header: list[str]  # as uploaded
    header: list[str]  # Druid-safe
    rejected: list[RejectedRow]  # ragged rows
    blank_rows: int
    preamble: list[CsvRecord]  # skipped above the header (see preamble.py)
    footer: list[CsvRecord]  # notes skipped below the table (see footer.py)
    repeated_headers: list[int]  # lines repeating the header (files joined together)


def normalise_csv(path: Path, key: str, fmt: DetectedFormat, out: Path) -> NormalisedCsv:
    """Stream the CSV into `out` (UTF-8, comma, all fields quoted, LINE_COLUMN first)."""
    rejected: list[RejectedRow] = []
    notes: list[CsvRecord] = []  # note-shaped records: the footer, unless a row follows them
    repeated_headers: list[int] = []
    blank_rows = 0
    with _open_text(path, fmt) as text, out.open("w", encoding="utf-8", newline="") as sink:
        # QUOTE_ALL: the csv module leaves a lone CR unquoted; Polars would take it as a line end.
        writer = csv.writer(sink, quoting=csv.QUOTE_ALL, lineterminator="\n")
        records = _non_blank_records(csv.reader(text, delimiter=fmt.delimiter or ","))
        window = list(itertools.islice(records, PREAMBLE_PROBE * 2))
        present = [r for r in window if r is not None]  # blank lines before the header: no rows
        if not present:
            raise FileRejected(
                key, "the file contains no header row", "upload a file with a header row"
            )
        h = table_start([r.fields for r in present[:PREAMBLE_PROBE]])
        raw_header, header = present[h].fields, druid_safe_column_names(present[h].fields)
        writer.writerow([LINE_COLUMN, *header])
        after = window[window.index(present[h]) + 1 :]
        width = len(header)
        # a note below the table follows a blank line, a totals row or another note: a row
        # cut short right after the last row ("Bob,42") is no note
        set_apart = False
        for record in itertools.chain(after, records):
            if record is None:
                blank_rows += 1
                set_apart = True
                continue
            if set_apart and is_note(record.fields, width, record.end - record.start + 1):
                notes.append(record)
                if len(notes) > FOOTER_MAX_RECORDS:  # too many to be a footer
                    rejected.append(_ragged(notes.pop(0), width))
                continue
            rejected += [_ragged(note, width) for note in notes]  # a row follows: no footer
            notes.clear()
            if _is_header(record.fields, raw_header):  # `cat a.csv b.csv`: the second header
                repeated_headers.append(record.start)
                set_apart = False
            elif len(record.fields) != width:
                rejected.append(_ragged(record, width))
                set_apart = False
            else:
                writer.writerow([record.start, *record.fields])
                set_apart = is_totals(record.fields)
    return NormalisedCsv(
        raw_header, header, rejected, blank_rows, present[:h], notes, repeated_headers
    )


def _is_header(fields: Sequence[str], header: Sequence[str]) -> bool:
    """The header again (a joined file's own may start with its byte-order mark)."""
    return len(fields) == len(header) and [fields[0].lstrip("\ufeff"), *fields[1:]] == header


def repeated_header_notes(lines: Sequence[int]) -> list[str]:
    """What a person should know of the header lines skipped inside the table."""
    if not lines:
        return []
    listed = ", ".join(map(str, lines[:10])) + (
        f" and {len(lines) - 10} more" if len(lines) > 10 else ""
    )
    return [f"skipped the header repeated on line(s) {listed}: files joined together?"]


def _ragged(record: CsvRecord, width: int) -> RejectedRow:
    span = f" (it spans lines {record.start}-{record.end}: look for an unmatched quote)"
    return RejectedRow(
        record.start,
        f"has {len(record.fields)} fields but the header has {width}"
        + (span if record.end > record.start else ""),
    )


def json_scalar(value: Any) -> Any:
    """Flatten a JSON value to something one Druid dimension can hold."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN/Infinity are not JSON; Druid cannot store them
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)  # beyond Druid's long: keep the digits as text
    return value


#: Characters of a first line read whole to tell NDJSON from one object wrapping records.
WRAP_PROBE = 1 << 20


def wraps_records(path: Path, fmt: DetectedFormat) -> bool:
    """Whether a file detected as NDJSON is one JSON object wrapping its records instead: its
    first line is no whole JSON value (a pretty-printed object), or it is the only line and
    holds one array of objects (or is too long to look at: a minified dump). Reads the first
    line in bounded memory and stops at the second."""
    with _open_text(path, fmt) as text:
        first = text.readline(WRAP_PROBE)
        while first and not first.strip():
            first = text.readline(WRAP_PROBE)
        if not first.lstrip().startswith("{"):
            return False
        if len(first) == WRAP_PROBE and not first.endswith("\n"):
            while (piece := text.readline(WRAP_PROBE)) and not piece.endswith("\n"):
                pass  # the rest of a first line too long to parse here
            return not any(line.strip() for line in text)
        try:
            value = json.loads(first)
        except json.JSONDecodeError:
            return True
        if not isinstance(value, dict) or any(line.strip() for line in text):
            return False
    return sum(map(are_records, value.values())) == 1


def normalise_ndjson(
    path: Path, key: str, fmt: DetectedFormat, out: Path, notes: list[str] | None = None
) -> tuple[list[str], list[RejectedRow], int, int]:
    """Stream NDJSON (or a JSON array's elements, or those a JSON object wraps: what else it
    holds is named in `notes`) into `out`: nested values as JSON text, keys as c0..cN,
    LINE_COLUMN added (the line an element starts on).

    Keys are renamed positionally because Druid-safe names depend on every key in the file
    (dedupe), which is known only at the end; the caller renames c0..cN afterwards.
    Returns (keys in order of first appearance, rejected lines, blank rows, rows written).
    """
    keys: dict[str, str] = {}
    rejected: list[RejectedRow] = []
    blank_rows = rows = 0
    with _open_text(path, fmt) as text, out.open("w", encoding="utf-8") as sink:
        if fmt.format == "json_array":
            records: Iterator[tuple[int, Any]] = json_array_elements(text, key)
        elif fmt.format == "json_object":
            records = json_wrapped_records(text, key, notes if notes is not None else [])
        else:
            records = ndjson_records(text, rejected)
        for line_number, record in records:
            if record is _BLANK:
                blank_rows += 1
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
                row[keys.setdefault(name, f"c{len(keys)}")] = json_scalar(value)
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            rows += 1
    return list(keys), rejected, blank_rows, rows


_BLANK = object()  # a blank NDJSON line


def ndjson_records(text: TextIO, rejected: list[RejectedRow]) -> Iterator[tuple[int, Any]]:
    """(line, value) per NDJSON line; a line that is no JSON goes to `rejected`."""
    for line_number, line in enumerate(text, start=1):
        if not line.strip():
            yield line_number, _BLANK
            continue
        try:
            yield line_number, json.loads(line)
        except json.JSONDecodeError as error:
            rejected.append(
                RejectedRow(line_number, f"invalid JSON: {error.msg} at column {error.colno}")
            )
