"""The normalised CSV read back by Polars: in bounded chunks, with types inferred from all of it.

Column types are inferred over the whole file, by us, from text, so late `NA`s or decimals
cannot break the read the way Polars' 100-row inference does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import polars as pl

from ingest_pipeline.vocabulary import NULL_MARKERS

_INFER_ROWS: Final = 200_000  # rows per chunk of the type inference pass


def csv_options() -> dict[str, Any]:
    """How Polars reads the normalised CSV, scanned whole or in chunks: every column as text."""
    return {
        "infer_schema": False,
        "null_values": list(NULL_MARKERS),
        "quote_char": '"',
        "has_header": True,
    }


def csv_chunks(path: Path, rows: int) -> Iterator[pl.DataFrame]:
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
                    yield pl.read_csv(io.BytesIO(header + b"".join(lines)), **csv_options())
                    lines, records = [], 0
        if lines:
            yield pl.read_csv(io.BytesIO(header + b"".join(lines)), **csv_options())


def infer_csv_types(out: Path, columns: list[str]) -> list[pl.Expr]:
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
    for chunk in csv_chunks(out, _INFER_ROWS):
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
