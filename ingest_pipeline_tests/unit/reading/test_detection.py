"""What a file is: format, compression, encoding, delimiter; what is refused on sight."""

from __future__ import annotations

import codecs
import gzip
import random
import sys
from pathlib import Path, PurePosixPath

import pytest

from ingest_pipeline.reading import DetectedFormat, detect_format, read_frame
from ingest_pipeline.reading.detection import (
    detect_encoding,
    key_extension,
    looks_binary,
    sniff_delimiter,
)
from ingest_pipeline.vocabulary import FileRejected
from ingest_pipeline_tests.unit.reading.helpers import write_upload


def test_empty_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "empty.csv", b"")
    with pytest.raises(FileRejected) as caught:
        read_frame(path, "uploads/sales/empty.csv")
    message = str(caught.value)
    assert "uploads/sales/empty.csv" in message
    assert "empty" in message
    assert "Fix:" in message


def test_whitespace_only_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="only whitespace"):
        read_frame(write_upload(tmp_path, "blank.csv", "\n  \r\n\t\n"), "k/blank.csv")


def test_binary_file_named_csv_is_rejected(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 40  # NUL bytes and control characters
    with pytest.raises(FileRejected, match="binary") as caught:
        read_frame(write_upload(tmp_path, "image.csv", garbage), "k/image.csv")
    assert caught.value.key == "k/image.csv"


def test_undecodable_control_heavy_bytes_are_rejected_even_without_nul(tmp_path: Path) -> None:
    garbage = bytes(b for b in range(1, 256) if b not in b"\t\n\r\x0b\x0c") * 50
    with pytest.raises(FileRejected, match="binary"):
        detect_format(write_upload(tmp_path, "x.csv", garbage), "k/x.csv")


def _png() -> bytes:
    return (Path(__file__).parents[3] / "docs" / "screenshots" / "rejected-check.png").read_bytes()


def _high_bytes(size: int) -> bytes:
    """Bytes >= 0x80 only: no NUL, no ASCII control character, not UTF-8."""
    return bytes(0x80 | b for b in random.Random(size).randbytes(size))


BINARY_UPLOADS = {
    # (8 random bytes can be text: b"3e\t:\xe5O\xd3^" is "3e<tab>:åOÓ^" in latin-1)
    **{f"random{n}.csv": random.Random(n).randbytes(n) for n in (16, 32, 64, 4096, 70_000)},
    "high_bytes.csv": _high_bytes(3000),
    "short_high_bytes.csv": _high_bytes(12),
    "image.csv": _png(),
    "program.csv": Path(sys.executable).resolve().read_bytes()[:100_000],
    "image.json": _png(),
}


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", sorted(BINARY_UPLOADS))
def test_binary_data_is_rejected_as_binary_naming_the_file_and_the_fix(
    tmp_path: Path, name: str, compressed: bool
) -> None:
    """Random bytes, a PNG or a program renamed .csv (and gzipped) are said to be binary, not
    read as one garbage header line ("the file has no data rows") or as garbage rows."""
    body = BINARY_UPLOADS[name]
    key = f"uploads/s/{name}" + (".gz" if compressed else "")
    body = gzip.compress(body) if compressed else body
    path = write_upload(tmp_path, PurePosixPath(key).name, body)
    with pytest.raises(FileRejected) as caught:
        read_frame(path, key)
    what = "the file's gzip content" if compressed else "the file"
    assert caught.value.problem == (
        f"{what} is binary, not text in any supported encoding "
        "(UTF-8, UTF-16 with a byte-order mark, latin-1)"
    )
    message = str(caught.value)
    assert message.startswith(f"{key}: ") and "Fix: upload CSV, newline-delimited JSON" in message


def test_text_in_an_unsupported_encoding_is_not_read_as_latin1(tmp_path: Path) -> None:
    cyrillic = "город;население\nМосква;13010112\nКазань;1308660\n".encode("cp1251")
    with pytest.raises(FileRejected, match="not text in any supported encoding") as caught:
        detect_format(write_upload(tmp_path, "cities.csv", cyrillic), "k/cities.csv")
    assert "save it as UTF-8" in caught.value.fix


@pytest.mark.parametrize(
    "text",
    [
        "Größe;Straße;Länge\nÄrger;Übel;Öl\n",  # dense German: 7 of 33 characters
        "cidade,situação\nSão Paulo,ação\nBelém,informação\n",
        "Größe\n",  # too short to judge by share: a header-only file, no rows
    ],
)
def test_dense_latin1_text_is_still_latin1(tmp_path: Path, text: str) -> None:
    path = write_upload(tmp_path, "t.csv", text, encoding="latin-1")
    assert detect_format(path, "k/t.csv").encoding == "latin-1"


def test_a_json_array_is_read_as_json_array(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "rows.json", '[{"a": 1}, {"a": 2}]')
    assert detect_format(path, "k/rows.json") == DetectedFormat("json_array", None, None, "utf-8")


def test_a_json_array_without_extension_is_read_too(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "upload", '\n  [{"a": 1}]')
    assert detect_format(path, "k/upload").format == "json_array"


def test_zip_or_excel_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="ZIP"):
        detect_format(write_upload(tmp_path, "book.xlsx", b"PK\x03\x04rest-of-zip"), "k/book.xlsx")


def test_file_named_parquet_without_magic_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="Parquet"):
        detect_format(write_upload(tmp_path, "data.parquet", "a,b\n1,2\n"), "k/data.parquet")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [["id", "city", "amount"], ["1", "Paris, France", "2,5"], ["2", "Oslo", "3"]]
    # Commas inside fields: quoted where the delimiter is a comma, bare otherwise.
    text = "".join(
        delimiter.join(f'"{v}"' if delimiter == "," and "," in v else v for v in row) + "\n"
        for row in rows
    )
    path = write_upload(tmp_path, "d.csv", text)
    assert detect_format(path, "k").delimiter == delimiter
    frame = read_frame(path, "k").frame.collect()
    assert frame["city"].to_list() == ["Paris, France", "Oslo"]
    # a ";" file's decimal commas are numbers (an integer among them too); elsewhere text
    assert frame["amount"].to_list() == ([2.5, 3.0] if delimiter == ";" else ["2,5", "3"])


def test_tsv_extension_prefers_tab_on_a_tie(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "t.tsv", "a\tb,c\n1\t2,3\n")
    assert detect_format(path, "k/t.tsv").delimiter == "\t"


def test_latin1(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "l.csv", "name;ville\nRenée;Besançon\n", encoding="latin-1")
    assert detect_format(path, "k").encoding == "latin-1"
    frame = read_frame(path, "k").frame.collect()
    assert frame.row(0) == (2, "Renée", "Besançon")


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "w.csv", "id\tnom\r\n1\tZoë\r\n2\t東京\r\n", encoding="utf-16")
    fmt = detect_format(path, "k")
    assert (fmt.encoding, fmt.delimiter) == ("utf-16", "\t")
    assert read_frame(path, "k").frame.collect()["nom"].to_list() == ["Zoë", "東京"]


@pytest.mark.parametrize("name", ["data.csv.gz", "data.csv", "data"])
def test_gzip_with_and_without_extension(tmp_path: Path, name: str) -> None:
    path = write_upload(tmp_path, name, gzip.compress(b"a;b\n1;x\n2;y\n"))
    fmt = detect_format(path, f"k/{name}")
    assert fmt == DetectedFormat("csv", "gzip", ";", "utf-8")
    assert read_frame(path, f"k/{name}").frame.collect()["b"].to_list() == ["x", "y"]


def test_ndjson_gzip_without_extension(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "blob", gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert detect_format(path, "k/blob") == DetectedFormat("ndjson", "gzip", None, "utf-8")
    assert read_frame(path, "k/blob").frame.collect()["a"].to_list() == [1, 2]


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/b.CSV.gz", (".csv", True)),
        ("a/b.csv", (".csv", False)),
        ("a/v1.2/b.tsv.GZIP", (".tsv", True)),
        ("a/b.tar.csv", (".csv", False)),
        ("a/b.gz", ("", True)),
        ("a/b", ("", False)),
    ],
)
def test_key_extension(key: str, expected: tuple[str, bool]) -> None:
    assert key_extension(key) == expected


@pytest.mark.parametrize(
    ("sample", "truncated", "prefer_tab", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", False, False, ","),
        ("a;b\n1,5;2\n", False, False, ";"),  # decimal commas do not split the header
        ("a|b|c\n1|2|3\n", False, False, "|"),
        ("a\tb,c\n1\t2,3\n", False, False, ","),  # a tie goes to the comma...
        ("a\tb,c\n1\t2,3\n", False, True, "\t"),  # ...unless the key says .tsv/.tab
        ("single\n1\n2\n", False, False, ","),  # nothing splits: the default
        # The sample cut the last record short: counting it would make ';' look inconsistent.
        ("a,b;c;d\n1,2;3;4\n5,6;7", False, False, ","),
        ("a,b;c;d\n1,2;3;4\n5,6;7", True, False, ";"),
    ],
)
def test_sniff_delimiter(sample: str, truncated: bool, prefer_tab: bool, delimiter: str) -> None:
    assert sniff_delimiter(sample, truncated, prefer_tab) == delimiter


@pytest.mark.parametrize(
    ("head", "encoding", "text"),
    [
        (b"a,b\n", "utf-8", "a,b\n"),
        ("café\n".encode(), "utf-8", "café\n"),
        (b"ab\xc3", "utf-8", "ab"),  # a character cut at the sample's end is no error
        (codecs.BOM_UTF8 + b"a\n", "utf-8-sig", "a\n"),
        (codecs.BOM_UTF16_LE + "a\n".encode("utf-16-le"), "utf-16", "a\n"),
        (codecs.BOM_UTF16_BE + "a\n".encode("utf-16-be"), "utf-16", "a\n"),
        ("Renée\n".encode("latin-1"), "latin-1", "Renée\n"),  # not UTF-8: guessed latin-1
    ],
)
def test_detect_encoding(head: bytes, encoding: str, text: str) -> None:
    assert detect_encoding(head, "k") == (encoding, text)


@pytest.mark.parametrize(
    "head",
    [
        b"a,\x00b\n",  # a NUL byte without a UTF-16 byte-order mark
        bytes(range(1, 32)) * 4 + b"\xff",  # control characters, and not UTF-8
    ],
)
def test_detect_encoding_refuses_binary(head: bytes) -> None:
    with pytest.raises(FileRejected, match="binary"):
        detect_encoding(head, "k")


@pytest.mark.parametrize(
    ("text", "binary"),
    [("", False), ("plain text\twith tabs\r\n", False), ("a\x01b\x02c\x03", True)],
)
def test_looks_binary(text: str, binary: bool) -> None:
    assert looks_binary(text) is binary
