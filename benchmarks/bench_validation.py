"""What does validating an upload cost, against a bare `polars.read_csv` of the same file?

Generates a CSV of N rows (default 1,000,000) with typed columns (ISO time, category, int,
float, a string with embedded quotes and commas) into a temporary directory, and a ~1 MB CSV
of the same shape (about 15k rows). Each measurement runs in its own subprocess, so its peak
RSS (VmHWM from /proc/self/status, or ru_maxrss) is its own:

  baseline   polars.read_csv(path, infer_schema_length=None): types from the whole file, the
             guarantee the pipeline keeps (the issue's 1.15 s figure is this read)
  default    polars.read_csv(path): types from the first 100 rows only, shown for reference
  pipeline   reading.read_frame + validation.validate + validation.write_druid_ndjson,
             timed per stage (the steps of the validated_frame asset, without S3)

Wall seconds and peak RSS are measured inside the child, after its imports (the RSS of the
imports alone is shown too). MB/s is input bytes / wall seconds. The 1 MB file is run
--small-repeat times in one child; its figures are medians.

    python benchmarks/bench_validation.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import current_rss_mb, generate_csv, peak_rss_mb

KEY_PREFIX = "uploads/bench/"
DATASET = "bench"
STAGES = ("read_frame", "validate_to_files")


def rows_for_bytes(target: int, workdir: Path) -> int:
    probe = workdir / "probe.csv"
    generate_csv(probe, 10_000)
    per_row = probe.stat().st_size / 10_000
    probe.unlink()
    return max(1, round(target / per_row))


# --------------------------------------------------------------------------- children


def run_baseline(path: Path) -> dict[str, Any]:
    import polars as pl

    imported = current_rss_mb()
    started = time.perf_counter()
    frame = pl.read_csv(path, infer_schema_length=None)
    wall = time.perf_counter() - started
    return {"wall": wall, "stages": {}, "rows": frame.height, "import_rss": imported}


def run_polars_default(path: Path) -> dict[str, Any]:
    import polars as pl

    imported = current_rss_mb()
    started = time.perf_counter()
    frame = pl.read_csv(path)
    wall = time.perf_counter() - started
    return {"wall": wall, "stages": {}, "rows": frame.height, "import_rss": imported}


def run_pandas(path: Path) -> dict[str, Any]:
    import pandas as pd

    imported = current_rss_mb()
    started = time.perf_counter()
    frame = pd.read_csv(path)
    wall = time.perf_counter() - started
    return {"wall": wall, "stages": {}, "rows": len(frame), "import_rss": imported}


def run_pipeline(path: Path, workdir: Path) -> dict[str, Any]:
    from ingest_pipeline.reading import read_frame
    from ingest_pipeline.validation import validate_to_files

    imported = current_rss_mb()
    key = KEY_PREFIX + path.name
    stages: dict[str, float] = {}
    started = time.perf_counter()
    parsed = read_frame(path, key, workdir=workdir)
    stages["read_frame"] = time.perf_counter() - started
    mark = time.perf_counter()
    ndjson, parquet = workdir / "rows.ndjson.gz", workdir / "rows.parquet"
    summary = validate_to_files(
        parsed, key, DATASET, ndjson_path=ndjson, parquet_path=parquet, preview_rows=10
    )
    stages["validate_to_files"] = time.perf_counter() - mark
    wall = time.perf_counter() - started
    assert not summary.rejected, summary.rejected[:3]
    return {
        "wall": wall,
        "stages": stages,
        "rows": summary.row_count,
        "import_rss": imported,
        "schema": summary.schema,
        "time_column": summary.time_column,
        "duplicates": summary.duplicate_rows,
        "output_bytes": ndjson.stat().st_size,
        "parquet_bytes": parquet.stat().st_size,
    }


def child(mode: str, path: Path, repeat: int) -> None:
    runs = []
    for i in range(repeat):
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-{i}-", dir=path.parent))
        if mode == "baseline":
            runs.append(run_baseline(path))
        elif mode == "pandas":
            runs.append(run_pandas(path))
        elif mode == "default":
            runs.append(run_polars_default(path))
        else:
            runs.append(run_pipeline(path, workdir))
        shutil.rmtree(workdir, ignore_errors=True)
    summary = dict(runs[-1])
    summary["wall"] = statistics.median(r["wall"] for r in runs)
    summary["stages"] = {
        stage: statistics.median(r["stages"][stage] for r in runs) for stage in runs[0]["stages"]
    }
    summary["import_rss"] = runs[0]["import_rss"]
    summary["peak_rss"] = peak_rss_mb()
    print(json.dumps(summary, default=str))


def measure(mode: str, path: Path, repeat: int = 1) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, str(path), "--small-repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-key medians of several children's summaries (wall, stages, peak RSS)."""
    summary = dict(runs[-1])
    summary["wall"] = statistics.median(r["wall"] for r in runs)
    summary["peak_rss"] = statistics.median(r["peak_rss"] for r in runs)
    summary["stages"] = {
        stage: statistics.median(r["stages"][stage] for r in runs) for stage in runs[0]["stages"]
    }
    summary["walls"] = [r["wall"] for r in runs]
    return summary


def report(
    title: str,
    size: int,
    baseline: dict[str, Any],
    pandas: dict[str, Any] | None,
    pipeline: dict[str, Any],
    default: dict[str, Any],
) -> None:
    mb = size / 1e6
    print(f"\n{title}: {pipeline['rows']:,} rows, {mb:.2f} MB")
    header = (
        f"{'step':<30} {'wall s':>9} {'MB/s':>8} {'peak RSS MB':>12} {'x time':>7} {'x RSS':>6}"
    )
    print(header)
    print("-" * len(header))
    base_wall, base_rss = baseline["wall"], baseline["peak_rss"]

    def line(name: str, wall: float, rss: float | None) -> None:
        rss_text = f"{rss:>12.0f}" if rss is not None else f"{'':>12}"
        ratio_rss = f"{rss / base_rss:>6.2f}" if rss is not None else f"{'':>6}"
        print(
            f"{name:<30} {wall:>9.3f} {mb / wall:>8.1f} {rss_text} "
            f"{wall / base_wall:>7.2f} {ratio_rss}"
        )

    line("baseline polars.read_csv", base_wall, base_rss)
    if pandas is not None:
        line("pandas.read_csv", pandas["wall"], pandas["peak_rss"])
    else:
        print(f"{'pandas.read_csv':<30} (pandas is not installed: pip install -e '.[bench]')")
    line("polars.read_csv 100-row types", default["wall"], default["peak_rss"])
    line("pipeline total", pipeline["wall"], pipeline["peak_rss"])
    for stage in STAGES:
        line(f"  {stage}", pipeline["stages"][stage], None)
    for name, result in (("baseline", baseline), ("pandas", pandas), ("pipeline", pipeline)):
        if result is None:
            continue
        print(f"  {name} walls: {', '.join(f'{w:.2f}' for w in result['walls'])}")
    # Round by round (each round runs baseline, pandas, pipeline back to back): the ratio of
    # neighbours is less exposed to load drift than the ratio of medians.
    paired = [p / b for p, b in zip(pipeline["walls"], baseline["walls"], strict=True)]
    print(
        f"  pipeline / baseline per round: {', '.join(f'{r:.2f}' for r in paired)}; "
        f"median {statistics.median(paired):.2f}"
    )
    print(
        f"(RSS after imports only: baseline {baseline['import_rss']:.0f} MB, pipeline "
        f"{pipeline['import_rss']:.0f} MB; stage MB/s is input MB / stage seconds)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-bytes", type=int, default=1_000_000)
    parser.add_argument("--small-repeat", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per mode")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.small_repeat)
        return 0

    import polars as pl

    print(f"python {sys.version.split()[0]}, polars {pl.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        workdir = Path(tmp)
        big = workdir / "big.csv"
        started = time.perf_counter()
        generate_csv(big, args.rows)
        print(
            f"generated {big.name}: {args.rows:,} rows, {big.stat().st_size / 1e6:.1f} MB "
            f"in {time.perf_counter() - started:.1f}s"
        )
        small = workdir / "small.csv"
        generate_csv(small, rows_for_bytes(args.small_bytes, workdir))

        modes = ("baseline", "pandas", "pipeline", "default")
        # pandas is a reference row from the `bench` extra; without it the rest still runs
        measured = [m for m in modes if m != "pandas" or importlib.util.find_spec("pandas")]
        big_runs: dict[str, list[dict[str, Any]]] = {m: [] for m in measured}
        small_runs: dict[str, list[dict[str, Any]]] = {m: [] for m in measured}
        for _ in range(args.repeat):  # interleaved: load drift hits every mode alike
            for mode in measured:
                big_runs[mode].append(measure(mode, big))
            for mode in measured:
                small_runs[mode].append(measure(mode, small, args.small_repeat))
        big_result = {m: median_of(r) for m, r in big_runs.items()}
        small_result = {m: median_of(r) for m, r in small_runs.items()}
        assert {r["rows"] for r in big_result.values()} == {args.rows}, big_result
        report(
            f"{args.rows:,}-row CSV (median of {args.repeat} interleaved runs)",
            big.stat().st_size,
            *(big_result.get(m) for m in modes),
        )
        report(
            f"~1 MB CSV (median of {args.repeat} interleaved runs, each the median of "
            f"{args.small_repeat} in one process)",
            small.stat().st_size,
            *(small_result.get(m) for m in modes),
        )
        pipe_big = big_result["pipeline"]
        print(
            f"\npipeline schema: {pipe_big['schema']}; time column: {pipe_big['time_column']}; "
            f"duplicates: {pipe_big['duplicates']}; NDJSON.gz out: "
            f"{pipe_big['output_bytes'] / 1e6:.1f} MB; Parquet out: "
            f"{pipe_big['parquet_bytes'] / 1e6:.1f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
