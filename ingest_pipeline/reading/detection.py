"""What an uploaded file is: format, compression, text encoding and CSV delimiter."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from ingest_pipeline.reading.preamble import table_start
from ingest_pipeline.vocabulary import (
    CSV_EXTENSIONS,
    GZIP_EXTENSIONS,
    JSON_EXTENSIONS,
    PARQUET_EXTENSIONS,
    TAB_SEPARATED_EXTENSIONS,
    FileFormat,
    FileRejected,
)

Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "utf-16"]

SAMPLE_BYTES: Final = 64 * 1024  # enough for a header and dozens of rows; cheap to read twice
DELIMITERS: Final = (",", ";", "\t", "|")  # preference order when two are equally consistent
_SNIFF_RECORDS = 50
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_ZIP_MAGIC = b"PK\x03\x04"
# Control characters (other than tab, newlines, form feed) are rare in text, common in binary.
_MAX_CONTROL_SHARE = 0.05
_CONTROL = {chr(c) for c in range(32)} - set("\t\n\r\f\v") | {"\x7f"}
# Latin-1 decodes any byte, so it is only a guess: text in the languages it serves is mostly
# ASCII (accented letters are a few percent, 25% in dense German or Portuguese words), while
# binary data, and text in an encoding we do not read (cp1251, Shift-JIS, ...), is not.
_MAX_LATIN1_NON_ASCII_SHARE = 0.3
# Below this many characters a share says little (a header like "Größe" is 2 of 6).
_MIN_JUDGED_CHARS = 8
SUPPORTED_ENCODINGS: Final = "UTF-8, UTF-16 with a byte-order mark, latin-1"


@dataclass(frozen=True)
class DetectedFormat:
    format: FileFormat
    compression: Literal["gzip"] | None = None
    delimiter: str | None = None  # CSV only
    encoding: Encoding = "utf-8"


def key_extension(key: str) -> tuple[str, bool]:
    """Return (format extension, has .gz) of an object key, e.g. 'a/b.CSV.gz' -> ('.csv', True)."""
    suffixes = [s.lower() for s in PurePosixPath(key).suffixes]
    gz = bool(suffixes) and suffixes[-1] in GZIP_EXTENSIONS
    if gz:
        suffixes.pop()
    return (suffixes[-1] if suffixes else ""), gz


def corrupt_gzip_error(key: str, error: BaseException) -> FileRejected:
    return FileRejected(
        key,
        f"the gzip data is corrupt or truncated ({error})",
        "compress the file again (gzip) or upload it uncompressed",
    )


def _read_head(path: Path, key: str, compressed: bool) -> bytes:
    if not compressed:
        with path.open("rb") as handle:
            return handle.read(SAMPLE_BYTES)
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError, zlib.error) as error:
        raise corrupt_gzip_error(key, error) from None


def looks_binary(text: str) -> bool:
    """Whether decoded text holds too many control characters to be a text file."""
    if not text:
        return False
    controls = sum(1 for char in text if char in _CONTROL)
    return controls / len(text) > _MAX_CONTROL_SHARE


def implausible_latin1(text: str) -> bool:
    """Whether text decoded as latin-1 (which never fails) is not latin-1 text: control
    characters, or mostly non-ASCII characters."""
    if looks_binary(text):
        return True
    if len(text) < _MIN_JUDGED_CHARS:
        return False
    non_ascii = sum(1 for char in text if char >= "\x80")
    return non_ascii / len(text) > _MAX_LATIN1_NON_ASCII_SHARE


def _binary_error(key: str, compressed: bool = False) -> FileRejected:
    what = "the file's gzip content" if compressed else "the file"
    return FileRejected(
        key,
        f"{what} is binary, not text in any supported encoding ({SUPPORTED_ENCODINGS})",
        "upload CSV, newline-delimited JSON or Parquet; text in another encoding (UTF-16 "
        "without a byte-order mark, cp1251, Shift-JIS, ...): save it as UTF-8",
    )


def detect_encoding(head: bytes, key: str, compressed: bool = False) -> tuple[Encoding, str]:
    """Pick an encoding from the first bytes and return it with the decoded sample; binary
    data, or text in no supported encoding, is rejected (`compressed`: the bytes were
    gunzipped, which the message says)."""
    encoding: Encoding
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise _binary_error(key, compressed)
    else:
        encoding = "utf-8"
    try:
        # Incremental, non-final: a multi-byte character cut at the sample's end is no error.
        text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise _binary_error(key, compressed) from None
        encoding, text = "latin-1", head.decode("latin-1")  # latin-1 decodes any byte
    # Only a guessed encoding needs judging: binary data is practically never valid UTF-8,
    # while real UTF-8 text may legitimately hold a few control characters.
    if encoding == "latin-1" and implausible_latin1(text):
        raise _binary_error(key, compressed)
    if encoding == "utf-16" and looks_binary(text):
        raise _binary_error(key, compressed)
    return encoding, text


def sniff_delimiter(sample: str, truncated: bool, prefer_tab: bool) -> str:
    """The delimiter that splits the header into most fields, consistently over the sample
    (the header below a title, if there is one: see `preamble`)."""
    best: tuple[float, int, int] | None = None
    chosen = ","
    order = ("\t", *[d for d in DELIMITERS if d != "\t"]) if prefer_tab else DELIMITERS
    for rank, delimiter in enumerate(order):
        try:
            # One record more than judged: the last may be cut short by the sample's end.
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            records = list(itertools.islice((r for r in reader if r), _SNIFF_RECORDS + 1))
        except csv.Error:
            continue
        if truncated and len(records) > 1:
            records.pop()  # the sample probably cut the last record short
        records = records[:_SNIFF_RECORDS]
        records = records[table_start(records) :]  # a title above the table is no header
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
    extension, _ = key_extension(key)

    if head.startswith(_PARQUET_MAGIC):
        return DetectedFormat("parquet", compression)
    if head.startswith(_ZIP_MAGIC):
        raise FileRejected(
            key,
            "the file is a ZIP archive (or an Excel workbook)",
            "export the sheet as CSV, or unzip and upload the files inside",
        )
    if extension in PARQUET_EXTENSIONS:
        raise FileRejected(
            key,
            "the file is named Parquet but has no Parquet header",
            "upload a valid Parquet file",
        )

    encoding, text = detect_encoding(head, key, compression == "gzip")
    content = text.lstrip()
    if not content:
        raise FileRejected(
            key, "the file contains no data (only whitespace)", "upload a file with data"
        )
    if extension in JSON_EXTENSIONS or (extension not in CSV_EXTENSIONS and content[0] in "[{"):
        if content[0] == "[":  # Druid reads only NDJSON: validation writes the rows as that
            return DetectedFormat("json_array", compression, None, encoding)
        if content[0] != "{":
            raise FileRejected(
                key,
                "the file is named JSON but does not start with a JSON object",
                "upload newline-delimited JSON (one object per line) or a JSON array of objects",
            )
        return DetectedFormat("ndjson", compression, None, encoding)

    truncated = len(head) == SAMPLE_BYTES
    delimiter = sniff_delimiter(text, truncated, prefer_tab=extension in TAB_SEPARATED_EXTENSIONS)
    return DetectedFormat("csv", compression, delimiter, encoding)
