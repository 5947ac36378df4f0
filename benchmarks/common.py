"""Helpers shared by the benchmarks: the running stack, process memory, the generated CSV.

`python benchmarks/x.py` puts only benchmarks/ on sys.path: importing this module puts the
checkout there too, so the benchmarks run the checkout's code and can use its test helpers
(ingest_pipeline_tests is not installed).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import TYPE_CHECKING

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))

if TYPE_CHECKING:
    from ingest_pipeline.stack.settings import StackSettings


def running_stack() -> StackSettings:
    """The stack every command uses ($INGEST_STACK_DIR, else the checkout's .stack), its
    endpoints put in os.environ as the CLI does; none there: exit with one line saying so."""
    from ingest_pipeline.stack.settings import default_stack_dir, load_settings, use_stack_env

    stack_dir = default_stack_dir()
    if not (stack_dir / "stack.env").exists():
        raise SystemExit(
            f"error: no stack found: {stack_dir / 'stack.env'} does not exist, and this "
            "benchmark needs the running stack. Fix: `ingest-pipeline stack up` (or export "
            "INGEST_STACK_DIR=<its folder>)"
        )
    use_stack_env(stack_dir)
    return load_settings(stack_dir)


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
