"""The CSV as text columns, written once to Arrow IPC files while its types are inferred.

Column types are inferred over the whole file, by us, from text, so late `NA`s or decimals
cannot break the read the way Polars' 100-row inference does (decimal commas included, when
unambiguous or configured: `DecimalComma`). Python cuts the CSV into blocks of
whole records (`csv_blocks`, ~16 MiB: memory stays bounded, where Polars' own streaming CSV scan
holds memory that grows with the file); Polars parses each block on all cores, the inference
counts are added up, and the block is written as one Arrow file. The CSV is parsed once: every
later pass (validation plans, then converts) reads the Arrow files, memory-mapped, in slices
(a CSV of at most one block is kept in memory instead: nothing to write and read back).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from ingest_pipeline.vocabulary import NULL_MARKERS

BLOCK_BYTES: Final = 16 * 1024 * 1024  # CSV bytes per block parsed at once


def csv_options() -> dict[str, Any]:
    """How Polars reads a CSV: every column as text, the usual null markers."""
    return {
        "infer_schema": False,
        "null_values": list(NULL_MARKERS),
        "quote_char": '"',
        "has_header": True,
    }


#: How a CSV's decimal commas are read: "off"; "detect" (a ";" file: a column whose every value
#: is like 1639,68 or an integer, some with a comma, is a number: Excel writes 2,6 and 2 in one
#: column); "configured" (the dataset's decimal_comma: 1.639,68 too).
DecimalComma = Literal["off", "detect", "configured"]
_DECIMAL_COMMA: Final[Mapping[DecimalComma, str]] = {
    "detect": r"^-?\d+(?:,\d+)?$",
    "configured": r"^-?\d+$|^-?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+$",
}


#: A number with thousands separators, as spreadsheets export them into a CSV whose decimal mark
#: is a point (1,037 and 12,345.50: groups of exactly 3 digits). Read only where decimal commas
#: are not (a ";" file's 1,037 is 1.037): a column whose every value is a number or like this.
_THOUSANDS: Final = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_THOUSANDS_INTEGER: Final = r"^[+-]?\d{1,3}(?:,\d{3})+$"


def decimal_comma_mode(delimiter: str | None, configured: bool) -> DecimalComma:
    if configured:
        return "configured"
    return "detect" if delimiter == ";" else "off"


def _number_checks(columns: list[str], which: list[int], comma: DecimalComma) -> list[pl.Expr]:
    """Values present, values that read as numbers, values with a leading zero (and values
    that read as numbers with a decimal comma)."""
    checks = []
    for i in which:
        text = pl.col(columns[i])
        checks += [
            text.is_not_null().sum().alias(f"n{i}"),
            text.cast(pl.Float64, strict=False).is_not_null().sum().alias(f"float{i}"),
            text.str.contains(r"^[+-]?0\d").any().alias(f"zero{i}"),
        ]
        if comma != "off":
            checks.append(text.str.contains(_DECIMAL_COMMA[comma]).sum().alias(f"comma{i}"))
        else:  # (the regex only over values with a comma: none, in most columns)
            grouped = text.filter(text.str.contains(",", literal=True)).str.contains(_THOUSANDS)
            checks.append(grouped.sum().alias(f"thou{i}"))
    return checks


def _integer_checks(columns: list[str], which: list[int]) -> list[pl.Expr]:
    """Values written as integers, values that read as Int64 (only for columns of numbers)."""
    checks = []
    for i in which:
        text = pl.col(columns[i])
        checks += [
            text.str.contains(r"^[+-]?\d+$").sum().alias(f"intlike{i}"),
            text.str.to_integer(strict=False).is_not_null().sum().alias(f"int{i}"),
            text.filter(text.str.contains(",", literal=True))
            .str.contains(_THOUSANDS_INTEGER)
            .sum()
            .alias(f"thouint{i}"),
        ]
    return checks


def _casts(columns: list[str], stats: dict[str, Any]) -> list[pl.Expr]:
    casts = []
    for i, name in enumerate(columns):
        present = stats.get(f"n{i}") or 0
        if present == 0 or _decided_text(i, stats):
            continue
        if stats[f"intlike{i}"] == present:
            if stats[f"int{i}"] == present:
                casts.append(pl.col(name).str.to_integer())
        elif stats[f"float{i}"] == present:
            casts.append(pl.col(name).cast(pl.Float64))
        elif stats.get(f"thou{i}"):  # every value a number, some with thousands separators
            plain = pl.col(name).str.replace_all(",", "", literal=True)
            whole = stats[f"intlike{i}"] + stats[f"thouint{i}"] == present
            casts.append(plain.str.to_integer() if whole else plain.cast(pl.Float64))
        else:  # every value a number with a decimal comma (see _DECIMAL_COMMA)
            casts.append(decimal_comma_number(pl.col(name)))
    return casts


def decimal_comma_number(text: pl.Expr) -> pl.Expr:
    """1.639,68 as 1639.68: thousands dots dropped, the comma a point."""
    dotted = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return dotted.cast(pl.Float64)


def _decided_text(i: int, stats: dict[str, Any]) -> bool:
    """Whether column `i` stays text whatever the rest of the file holds: a leading zero, or a
    value that is no number (an Int64 is a number too; "007", zip codes, stay text), with a
    decimal point or, where they are read, a decimal comma."""
    if stats[f"zero{i}"]:
        return True
    present = stats[f"n{i}"]
    numbers = stats[f"float{i}"] + stats.get(f"thou{i}", 0)  # (no value is both)
    return numbers < present and stats.get(f"comma{i}", 0) < present


def decimal_comma_columns(columns: list[str], stats: dict[str, Any]) -> list[str]:
    """The columns cast from numbers with a decimal comma."""
    return [
        name
        for i, name in enumerate(columns)
        if (present := stats.get(f"n{i}") or 0)
        and not _decided_text(i, stats)
        and stats[f"intlike{i}"] < present
        and stats[f"float{i}"] < present
        and not stats.get(f"thou{i}")
    ]


def thousands_columns(columns: list[str], stats: dict[str, Any]) -> list[str]:
    """The columns cast from numbers with thousands separators."""
    return [
        name
        for i, name in enumerate(columns)
        if stats.get(f"thou{i}") and not _decided_text(i, stats)
    ]


def _add_counts(stats: dict[str, Any], found: dict[str, Any]) -> None:
    for name, value in found.items():
        if name.startswith("zero"):
            stats[name] = stats.get(name, False) or bool(value)
        else:
            stats[name] = stats.get(name, 0) + value


def csv_blocks(path: Path, start: int = 0) -> Iterator[bytes]:
    """The bytes of `path` from `start` on, in blocks of whole records.

    A block ends at a line feed with an even number of quotes before it in the block (each
    block starts at a record start, so that line feed is outside quotes).
    """
    with path.open("rb") as source:
        source.seek(start)
        rest = b""
        while chunk := source.read(BLOCK_BYTES):
            data = rest + chunk
            cut = _record_end(data)
            if cut is None:
                rest = data  # one record longer than a block: read on
                continue
            yield data[:cut]
            rest = data[cut:]
        if rest:
            yield rest


def _record_end(data: bytes) -> int | None:
    """Just after the last line feed of `data` outside quotes (None: there is none)."""
    quotes, end = data.count(b'"'), len(data)
    while (feed := data.rfind(b"\n", 0, end)) >= 0:
        quotes -= data.count(b'"', feed + 1, end)
        if quotes % 2 == 0:
            return feed + 1
        end = feed
    return None


class ArrowCopy:
    """Text blocks written as Arrow files, with the inference counts added up.

    A context manager: each block is written on a thread while the caller parses the next one
    (at most one write waits, so memory grows by one block); leaving the context waits for the
    writes. `in_memory` (a file of about one block) keeps the blocks instead: no file to write
    and read back. A column whose counts already rule out a cast (see `_decided_text`) is no
    longer counted: its verdict cannot change.
    """

    def __init__(
        self,
        folder: Path,
        columns: list[str],
        in_memory: bool = False,
        decimal_comma: DecimalComma = "off",
    ) -> None:
        self.folder, self.columns = folder, columns
        self._comma: DecimalComma = decimal_comma
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.arrow"):
            old.unlink()
        self.rows = 0
        self._stats: dict[str, Any] = {}
        self._open = list(range(len(columns)))  # columns whose type is not decided yet
        self._writer = (
            None
            if in_memory
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="arrow-copy")
        )
        self._blocks: list[pl.DataFrame] = []  # in memory: the blocks themselves
        self._written: Future[None] | None = None
        self._parts = 0

    def __enter__(self) -> ArrowCopy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)

    def _wait(self) -> None:
        written, self._written = self._written, None
        if written is not None:
            written.result()  # raises what the write raised

    def add(self, block: pl.DataFrame) -> None:
        self._wait()
        path = self.folder / f"{self._parts:06d}.arrow"
        self._parts += 1
        if self._writer is None:
            self._blocks.append(block)
        else:
            self._written = self._writer.submit(block.write_ipc, path, compression="uncompressed")
        self.rows += block.height
        if self._open and block.height:
            # Integer syntax is counted only for columns of numbers so far: a column with a
            # value that is no number stays text (Int64 text always reads as a number too).
            checks = _number_checks(self.columns, self._open, self._comma)
            _add_counts(self._stats, block.select(checks).row(0, named=True))
            self._open = [i for i in self._open if not _decided_text(i, self._stats)]
            if self._open:
                checks = _integer_checks(self.columns, self._open)
                _add_counts(self._stats, block.select(checks).row(0, named=True))

    def parts(self) -> list[Path]:
        return sorted(self.folder.glob("*.arrow"))

    def casts(self) -> list[pl.Expr]:
        """Casts of text columns to Int64/Float64 where every non-null value allows it (with
        a decimal comma too, where those are read: see `DecimalComma`).

        Values with leading zeros ("007", zip codes) and integers beyond Int64 stay text, so no
        digits are lost.
        """
        return _casts(self.columns, self._stats) if self.rows else []

    def decimal_comma_columns(self) -> list[str]:
        """The columns `casts` reads as numbers with a decimal comma."""
        return decimal_comma_columns(self.columns, self._stats) if self.rows else []

    def thousands_columns(self) -> list[str]:
        """The columns `casts` reads as numbers with thousands separators."""
        return thousands_columns(self.columns, self._stats) if self.rows else []

    def number_notes(self) -> list[str]:
        """What a person should know of numbers read from text written otherwise."""
        notes = []
        if commas := self.decimal_comma_columns():
            notes.append(
                f"numbers with a decimal comma (1.639,68 = 1639.68) in: {', '.join(commas)}"
            )
        if grouped := self.thousands_columns():
            notes.append(
                f"numbers with thousands separators (12,345.5 = 12345.5) in: {', '.join(grouped)}"
            )
        return notes

    def frame(self, schema: dict[str, pl.DataType]) -> pl.LazyFrame:
        self._wait()
        if self._blocks:
            return pl.concat(self._blocks, rechunk=False).lazy()
        parts = self.parts()
        return pl.scan_ipc(parts) if parts else pl.LazyFrame(schema=schema)


def read_block(block: bytes, schema: Mapping[str, pl.DataType], delimiter: str) -> pl.DataFrame:
    """One block of whole records (no header) as text columns."""
    return pl.read_csv(
        block, **{**csv_options(), "has_header": False}, separator=delimiter, schema=schema
    )


def arrow_slices(frame: pl.LazyFrame, rows: int, total: int) -> Iterator[pl.LazyFrame]:
    """The Arrow copy of `total` rows, `rows` at a time, in order (each slice reads only its
    own parts)."""
    for offset in range(0, total, rows):
        yield frame.slice(offset, rows)
