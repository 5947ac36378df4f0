"""The rows being validated, in batches, and whole-file aggregations over them."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import polars as pl

from ingest_pipeline.validation.stats import Combine
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected

# Kept values (see `keep`) held in memory before the rest go to disk: 8 bytes per row and
# column, so the time values of 4M rows; memory stays bounded whatever the file's size.
KEEP_MEMORY_BYTES: Final = 32 * 1024 * 1024


def unreadable_error(key: str, error: Exception) -> FileRejected:
    return FileRejected(key, f"the file could not be read ({error})", "upload a valid file")


def _identity(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame


@dataclass
class BatchSource:
    """The rows to validate, in order, `batch_rows` at a time (None: all at once)."""

    frame: pl.LazyFrame  # the rows, with LINE_COLUMN (Int64) and Druid-safe names
    key: str
    batch_rows: int | None
    # Raw batches of the frame before `prepare` (see `ReadResult.batches`), if the reader has
    # a bounded-memory way; otherwise the frame is streamed with `collect_batches`.
    raw_batches: Callable[..., Iterator[pl.DataFrame]] | None = None
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] = _identity
    # Where `keep` writes the columns it keeps for a later pass (None: they stay in memory).
    keep_dir: Path | None = field(default=None)
    # Raw name of each column `prepare` renames: `raw_batches` can then read only the columns
    # a pass needs (it takes the raw names to read as a second argument).
    raw_names: Mapping[str, str] = field(default_factory=dict)
    # Rows of `frame` if known: at most `batch_rows` of them are read once, in one batch that
    # every pass reuses (small files pay one read, not one per pass; memory: one batch).
    rows: int | None = None
    kept_bytes: int = 0  # kept values held in memory (see `keep`)
    kept_files: int = 0  # kept values written to `keep_dir`
    _whole: pl.DataFrame | None = field(default=None, init=False, repr=False)

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        if self.batch_rows is None:
            yield self._collect(self.frame if columns is None else self.frame.select(columns))
            return
        try:
            if self._one_batch():
                if self._whole is None:
                    self._whole = pl.concat(self._batches_of(None), how="vertical")
                yield self._whole if columns is None else self._whole.select(columns)
            else:
                yield from _prefetched(self._batches_of(columns))
        except pl.exceptions.PolarsError as error:
            raise unreadable_error(self.key, error) from None

    def _one_batch(self) -> bool:
        return (
            self.raw_batches is not None
            and self.batch_rows is not None
            and self.rows is not None
            and 0 < self.rows <= self.batch_rows
        )

    def _batches_of(self, columns: Sequence[str] | None) -> Iterator[pl.DataFrame]:
        def pick(frame: pl.LazyFrame) -> pl.LazyFrame:
            return frame if columns is None else frame.select(columns)

        if self.raw_batches is not None:
            assert self.batch_rows is not None
            wanted = None
            if columns is not None:
                wanted = [LINE_COLUMN] + [
                    self.raw_names.get(c, c) for c in columns if c != LINE_COLUMN
                ]
            for raw in self.raw_batches(self.batch_rows, wanted):
                yield pick(self.prepare(raw.lazy())).collect()
        else:
            frame = pick(self.frame)
            yield from frame.collect_batches(chunk_size=self.batch_rows, engine="streaming")

    def _collect(self, frame: pl.LazyFrame) -> pl.DataFrame:
        try:
            return frame.collect(engine="streaming")
        except pl.exceptions.PolarsError as error:
            raise unreadable_error(self.key, error) from None


def _prefetched(batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """`batches`, the next one read on a thread while the caller works on the current one
    (Polars releases the GIL while it reads): one batch ahead, so memory grows by one batch."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-batch") as reader:
        ahead = reader.submit(next, batches, None)
        while (batch := ahead.result()) is not None:
            ahead = reader.submit(next, batches, None)
            yield batch


def needed_columns(exprs: Iterable[pl.Expr]) -> list[str]:
    """The columns `exprs` read, and LINE_COLUMN (so a batch keeps its height)."""
    names = {LINE_COLUMN}
    for expr in exprs:
        names.update(expr.meta.root_names())
    return sorted(names)


class Aggregation(NamedTuple):
    """An aggregation over a batch, and how one batch's result joins the running one."""

    expr: pl.Expr
    combine: Combine


K = TypeVar("K", bound=Hashable)


def aggregate(source: BatchSource, aggregations: Mapping[K, Aggregation]) -> dict[K, Any]:
    """Evaluate aggregations over all batches, combining each batch's result by sum/min/max."""
    return scan(source, aggregations, {})[0]


def scan(
    source: BatchSource,
    aggregations: Mapping[K, Aggregation],
    kept: Mapping[str, pl.Expr],
) -> tuple[dict[K, Any], dict[str, KeptColumn]]:
    """`aggregate` and `keep` in one pass over the batches (two queries per batch: running
    them together with `pl.collect_all` measured no faster)."""
    keys = list(aggregations)
    combines = [aggregations[k].combine for k in keys]
    result: list[Any] = [0 if how == "sum" else None for how in combines]
    # Polars names the results by position: any hashable key, no name parsed back.
    exprs = {f"a{i}": aggregations[k].expr for i, k in enumerate(keys)}
    parts: list[pl.DataFrame | Path] = []
    if not exprs and not kept:
        return {}, {}
    for batch in source.batches(needed_columns([*exprs.values(), *kept.values()])):
        if exprs:
            _combine(result, combines, batch.select(**exprs).row(0))
        if kept:
            parts.append(_kept_part(source, batch.select(**kept)))
    return dict(zip(keys, result, strict=True)), {name: KeptColumn(parts, name) for name in kept}


def _combine(result: list[Any], combines: Sequence[Combine], batch: Sequence[Any]) -> None:
    for i, (how, value) in enumerate(zip(combines, batch, strict=True)):
        old = result[i]
        if how == "sum":
            result[i] = old + value
        elif old is None or (old != old and value is not None):  # None or NaN: take any
            result[i] = value
        elif value is not None and value == value:  # NaN: ignored, as Polars' min/max do
            result[i] = min(old, value) if how == "min" else max(old, value)


class KeptColumn:
    """One column computed by `keep`, read back batch by batch (the batches of its source)."""

    def __init__(self, parts: Sequence[pl.DataFrame | Path], name: str) -> None:
        self._parts, self._name = parts, name

    def batches(self) -> Iterator[pl.Series]:
        for part in self._parts:
            frame = pl.read_ipc(part, columns=[self._name]) if isinstance(part, Path) else part
            yield frame[self._name]


def keep(source: BatchSource, exprs: Mapping[str, pl.Expr]) -> dict[str, KeptColumn]:
    """Evaluate `exprs` (row-wise) over every batch once, keeping the values for a later pass
    over the same batches: in memory while the source holds at most KEEP_MEMORY_BYTES of
    them, then on disk under `source.keep_dir` if set (else all in memory)."""
    return scan(source, {}, exprs)[1]


def _kept_part(source: BatchSource, values: pl.DataFrame) -> pl.DataFrame | Path:
    size = int(values.estimated_size())  # bytes (typed int | float by Polars)
    if source.keep_dir is None or source.kept_bytes + size <= KEEP_MEMORY_BYTES:
        source.kept_bytes += size
        return values
    source.kept_files += 1
    path = source.keep_dir / f"kept-{source.kept_files:06d}.arrow"
    values.write_ipc(path, compression="uncompressed")
    return path
