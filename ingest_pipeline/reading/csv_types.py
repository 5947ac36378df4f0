"""The CSV as text columns, written once to an Arrow IPC file while its types are inferred.

Column types are inferred over the whole file, by us, from text, so late `NA`s or decimals
cannot break the read the way Polars' 100-row inference does. The inference and the Arrow
copy come from the same streaming pass (`pl.collect_all`): the CSV is parsed once, and every
later pass (validation plans, then converts) reads the Arrow file, memory-mapped, in slices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import polars as pl

from ingest_pipeline.vocabulary import NULL_MARKERS

IPC_BATCH_ROWS: Final = 64_000  # rows per record batch of the Arrow copy (slices read few)


def csv_options() -> dict[str, Any]:
    """How Polars reads a CSV: every column as text, the usual null markers."""
    return {
        "infer_schema": False,
        "null_values": list(NULL_MARKERS),
        "quote_char": '"',
        "has_header": True,
    }


def _inference_checks(columns: list[str]) -> list[pl.Expr]:
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
    return checks


def _casts(columns: list[str], stats: dict[str, Any]) -> list[pl.Expr]:
    casts = []
    for i, name in enumerate(columns):
        present = stats.get(f"n{i}") or 0
        if present == 0 or stats[f"zero{i}"]:
            continue
        if stats[f"intlike{i}"] == present:
            if stats[f"int{i}"] == present:
                casts.append(pl.col(name).str.to_integer())
        elif stats[f"float{i}"] == present:
            casts.append(pl.col(name).cast(pl.Float64))
    return casts


def materialise_csv(
    text: pl.LazyFrame, columns: list[str], arrow: Path, also: pl.LazyFrame | None = None
) -> tuple[list[pl.Expr], pl.DataFrame | None]:
    """Write `text` (a CSV scan, all columns text) to `arrow` and infer the column types.

    Returns casts of text columns to Int64/Float64 where every non-null value in the file
    allows it, and `also` collected in the same streaming pass (None without it). Values with
    leading zeros ("007", zip codes) and integers beyond Int64 stay text, so no digits are lost.
    """
    queries = [text.sink_ipc(arrow, record_batch_size=IPC_BATCH_ROWS, lazy=True)]
    if columns:
        queries.append(text.select(_inference_checks(columns)))
    if also is not None:
        queries.append(also)
    results = pl.collect_all(queries, engine="streaming")
    casts = _casts(columns, results[1].row(0, named=True)) if columns else []
    return casts, results[-1] if also is not None else None


def arrow_slices(arrow: Path, rows: int) -> Iterator[pl.LazyFrame]:
    """The Arrow copy, `rows` at a time, in order (each slice reads only its record batches)."""
    frame = pl.scan_ipc(arrow)
    total = frame.select(pl.len()).collect().item()
    for offset in range(0, total, rows):
        yield frame.slice(offset, rows)
