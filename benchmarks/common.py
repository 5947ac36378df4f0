"""Helpers shared by the validation benchmarks: process memory and the generated CSV."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def generate_csv(path: Path, rows: int, chunk_rows: int = 1_000_000) -> None:
    """A typed CSV of `rows` rows, written `chunk_rows` at a time (memory stays small)."""
    import polars as pl

    with path.open("wb") as sink:
        for start in range(0, max(rows, 1), chunk_rows):
            n = pl.int_range(start, min(rows, start + chunk_rows), dtype=pl.Int64)
            frame = pl.select(
                time=(pl.lit(1_704_067_200_000, dtype=pl.Int64) + n * 1_000)
                .cast(pl.Datetime("ms"))
                .dt.strftime("%Y-%m-%dT%H:%M:%S.%3fZ"),
                category=pl.format("cat_{}", n % 37),
                count=(n * 7919) % 1_000_003 - 500_000,
                amount=(n % 100_000).cast(pl.Float64) / 8 - 3_000.5,
                comment=pl.format('said "hello, {}" and left', n % 5_003),
            )
            # quotes the comment column: it holds quotes and commas
            frame.write_csv(sink, include_header=start == 0)
