"""Exact distinct counts in bounded memory: one 64-bit hash per value, spilled to disk if many."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import polars as pl

# Hashes one distinct counter holds in memory (8 MiB) before spilling to disk.
DISTINCT_MEMORY_HASHES = 1 << 20
SPILL_BUCKET_BITS: Final = 6
SPILL_BUCKETS: Final = 1 << SPILL_BUCKET_BITS


class DistinctCount:
    """Exact count of distinct values, kept as one 64-bit hash per distinct value.

    Two different values share a hash with negligible probability (~n²/2⁶⁵ for n values).
    With a `spill_dir`, memory stays bounded however many values there are: once more than
    `memory_hashes` distinct ones are held, hashes go to `SPILL_BUCKETS` files by their top
    bits, and the count is the sum of each bucket's distinct count (a value's hash always lands
    in the same bucket), loading one bucket at a time: 8 bytes per row on disk, 1/64 of them in
    memory.
    """

    def __init__(self, spill_dir: Path | None = None, memory_hashes: int | None = None) -> None:
        self._spill_dir = spill_dir
        # Read at construction, not import, so tests can lower the module default.
        self._memory_hashes = DISTINCT_MEMORY_HASHES if memory_hashes is None else memory_hashes
        self._seen = pl.Series(dtype=pl.UInt64)
        self._pending: list[pl.Series] = []
        self._pending_rows = 0
        self._buckets: list[Path] | None = None  # set once spilled

    def add(self, hashes: pl.Series) -> None:
        if self._buckets is not None:
            self._spill(hashes.unique())
            return
        # Held as given until they add up to more than the merged set (at least 1M hashes, at
        # most `memory_hashes` with a spill folder): then one unique() over them all, not one
        # per batch.
        self._pending.append(hashes)
        self._pending_rows += len(hashes)
        merge_at = max(len(self._seen), 1_000_000)
        if self._spill_dir is not None:
            merge_at = min(merge_at, self._memory_hashes)
        if self._pending_rows <= merge_at:
            return
        self._merge()
        if self._spill_dir is not None and len(self._seen) > self._memory_hashes:
            prefix = self._spill_dir / f"distinct-{id(self)}"
            self._buckets = [Path(f"{prefix}-{bucket}.u64") for bucket in range(SPILL_BUCKETS)]
            for path in self._buckets:
                path.touch()
            self._spill(self._seen)
            self._seen = pl.Series(dtype=pl.UInt64)

    def _spill(self, hashes: pl.Series) -> None:
        assert self._buckets is not None
        frame = pl.DataFrame({"hash": hashes}).with_columns(
            # the top bits pick the bucket (Polars has no shift operator for integers)
            bucket=(pl.col("hash") // pl.lit(1 << (64 - SPILL_BUCKET_BITS), pl.UInt64)).cast(
                pl.Int64
            )
        )
        for (bucket,), part in frame.partition_by("bucket", as_dict=True).items():
            with self._buckets[bucket].open("ab") as sink:
                part["hash"].to_numpy().tofile(sink)

    def _merge(self) -> None:
        if self._pending:
            # sort() copies into an exact-size buffer: unique() alone keeps a buffer as large as
            # its input alive.
            self._seen = pl.concat([self._seen, *self._pending]).unique().sort()
            self._pending, self._pending_rows = [], 0

    def count(self) -> int:
        if self._buckets is None:  # n_unique: no need to sort what is not kept
            return pl.concat([self._seen, *self._pending]).n_unique()
        return sum(
            pl.Series(np.fromfile(path, dtype=np.uint64)).n_unique() for path in self._buckets
        )
