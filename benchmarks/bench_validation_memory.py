"""Does validation memory stay bounded as files grow? Peak RSS and speed of three paths.

A series of typed CSVs (ISO time, category, int, float, a quoted string with quotes and commas)
of growing size, doubling from --min-mb up to --max-gb (default 25 MB .. 1 GB; `--max-gb 5`
for the 5 GB point), or exactly --rows N..., is generated into a temporary directory, and each
path runs in its own subprocess so its peak RSS (VmHWM from /proc/self/status, or ru_maxrss) is
its own:

  (a) baseline  polars.read_csv(path, infer_schema_length=None)
  (b) old       reading.read_frame + validation.validate + write_druid_ndjson + write_parquet
  (c) stream    reading.read_frame + validation.validate_to_files (batches of --batch-rows)

Wall seconds are measured inside the child after its imports; MB/s is input bytes / wall.
Peak RSS includes the imports (shown separately). (c) should stay flat as N grows: it holds
about one batch, and the exact distinct/duplicate counts spill their hashes to disk past 1M.
(b) holds the whole file, so it runs only up to --old-max-rows, and (a) only up to
--baseline-max-gb (it needs several times the file in memory). The summary prints (c)'s peak
RSS and MB/s per size: flat RSS and steady MB/s mean bounded memory and linear time.

    python benchmarks/bench_validation_memory.py [--max-gb 5] [--rows 250000 1000000 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import current_rss_mb, generate_csv, peak_rss_mb

KEY_PREFIX = "uploads/bench/"
DATASET = "bench"
MODES = ("baseline", "old", "stream")
LABELS = {
    "baseline": "(a) polars.read_csv",
    "old": "(b) validate + writers",
    "stream": "(c) validate_to_files",
}


# --------------------------------------------------------------------------- children


def run(mode: str, path: Path, workdir: Path, batch_rows: int) -> dict[str, Any]:
    import polars as pl

    from ingest_pipeline.reading import read_frame
    from ingest_pipeline.validation import (
        validate,
        validate_to_files,
        write_druid_ndjson,
        write_parquet,
    )

    imported = current_rss_mb()
    key = KEY_PREFIX + path.name
    started = time.perf_counter()
    if mode == "baseline":
        rows = pl.read_csv(path, infer_schema_length=None).height
    elif mode == "old":
        parsed = read_frame(path, key, workdir=workdir)
        result = validate(
            parsed.frame, key, DATASET, rejected=parsed.rejected, notes=parsed.warnings
        )
        write_druid_ndjson(result.frame, workdir / "rows.ndjson.gz")
        write_parquet(result.frame, workdir / "rows.parquet")
        rows = result.row_count
    else:
        parsed = read_frame(path, key, workdir=workdir)
        summary = validate_to_files(
            parsed,
            key,
            DATASET,
            ndjson_path=workdir / "rows.ndjson.gz",
            parquet_path=workdir / "rows.parquet",
            batch_rows=batch_rows,
        )
        rows = summary.row_count
    wall = time.perf_counter() - started
    return {"wall": wall, "rows": rows, "import_rss": imported, "peak_rss": peak_rss_mb()}


def measure(mode: str, path: Path, batch_rows: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        mode,
        str(path),
        "--batch-rows",
        str(batch_rows),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", help="row counts (default: by size)")
    parser.add_argument("--min-mb", type=float, default=25)
    parser.add_argument("--max-gb", type=float, default=1)
    parser.add_argument("--baseline-max-gb", type=float, default=1.0)
    parser.add_argument("--old-max-rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=200_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path = Path(args.child[1])
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-{args.child[0]}-", dir=path.parent))
        print(json.dumps(run(args.child[0], path, workdir, args.batch_rows)))
        return 0

    import polars as pl

    print(
        f"python {sys.version.split()[0]}, polars {pl.__version__}, {os.cpu_count()} CPUs, "
        f"batch_rows {args.batch_rows:,}"
    )
    header = (
        f"{'rows':>10} {'MB':>7} {'path':<24} {'wall s':>8} {'MB/s':>7} {'peak RSS MB':>12} "
        f"{'c/a time':>9} {'c/a RSS':>8} {'c/b time':>9} {'c/b RSS':>8}"
    )
    lines = [header, "-" * len(header)]
    imports: dict[str, float] = {}
    bytes_per_row = 79.1  # generate_csv's rows, measured
    series = args.rows or []
    if not series:
        mb = args.min_mb
        while mb <= args.max_gb * 1000 * 1.01:
            series.append(round(mb * 1e6 / bytes_per_row))
            mb *= 2
        if series[-1] * bytes_per_row < args.max_gb * 1e9 * 0.99:
            series.append(round(args.max_gb * 1e9 / bytes_per_row))
    stream_points: list[tuple[int, float, float, float]] = []
    for rows in series:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            path = Path(tmp) / "upload.csv"
            generate_csv(path, rows)
            mb = path.stat().st_size / 1e6
            modes = [
                m
                for m in MODES
                if (m != "old" or rows <= args.old_max_rows)
                and (m != "baseline" or mb <= args.baseline_max_gb * 1000)
            ]
            results = {mode: measure(mode, path, args.batch_rows) for mode in modes}
        assert all(r["rows"] == rows for r in results.values()), results
        a, b, c = (results.get(m) for m in MODES)
        assert c is not None
        stream_points.append((rows, mb, c["wall"], c["peak_rss"]))
        for mode in modes:
            r = results[mode]
            imports[mode] = r["import_rss"]
            ratios = ""
            if mode == "stream":
                ratios = (
                    f"{c['wall'] / a['wall']:>9.2f} {c['peak_rss'] / a['peak_rss']:>8.2f}"
                    if a is not None
                    else f"{'':>9} {'':>8}"
                )
            if mode == "stream" and b is not None:
                ratios += f" {c['wall'] / b['wall']:>9.2f} {c['peak_rss'] / b['peak_rss']:>8.2f}"
            lines.append(
                f"{rows:>10,} {mb:>7.1f} {LABELS[mode]:<24} {r['wall']:>8.2f} "
                f"{mb / r['wall']:>7.1f} {r['peak_rss']:>12.0f} {ratios}".rstrip()
            )
        shown = len(modes)
        print("\n".join(lines[-shown:]) if len(lines) > 2 + shown else "\n".join(lines), flush=True)
    print(
        "(RSS after imports only: "
        + ", ".join(f"{LABELS[m][:3]} {imports[m]:.0f} MB" for m in MODES if m in imports)
        + ")"
    )
    print("\n(c) validate_to_files over the series: peak RSS and speed per size")
    print(f"{'rows':>12} {'MB':>9} {'wall s':>9} {'MB/s':>8} {'peak RSS MB':>12}")
    for rows, mb, wall, rss in stream_points:
        print(f"{rows:>12,} {mb:>9.1f} {wall:>9.2f} {mb / wall:>8.1f} {rss:>12.0f}")
    peaks = [p[3] for p in stream_points]
    speeds = [p[1] / p[2] for p in stream_points]
    print(
        f"peak RSS: max {max(peaks):.0f} MB (limit 1024), largest/smallest "
        f"{peaks[-1] / peaks[0]:.2f}; MB/s: min {min(speeds):.1f}, max {max(speeds):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
