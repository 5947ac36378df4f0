"""Does validation memory stay bounded as files grow? Peak RSS and speed of three paths.

For each N in --rows (default 250k, 1M, 2M) a typed CSV (ISO time, category, int, float, a
quoted string with quotes and commas) is generated into a temporary directory, and each path
runs in its own subprocess so its peak RSS (VmHWM from /proc/self/status, or ru_maxrss) is its
own:

  (a) baseline  polars.read_csv(path, infer_schema_length=None)
  (b) old       reading.read_frame + validation.validate + write_druid_ndjson + write_parquet
  (c) stream    reading.read_frame + validation.validate_to_files (batches of --batch-rows)

Wall seconds are measured inside the child after its imports; MB/s is input bytes / wall.
Peak RSS includes the imports (shown separately). (c) should stay flat as N grows: it holds
about one batch, and the exact distinct/duplicate counts spill their hashes to disk past 1M.
(b) holds the whole file, so it runs only up to --old-max-rows.

    python benchmarks/bench_validation_memory.py [--rows 250000 1000000 4000000 8000000]
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
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000, 8_000_000]
    )
    parser.add_argument("--old-max-rows", type=int, default=2_000_000)
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
    for rows in args.rows:
        modes = [m for m in MODES if m != "old" or rows <= args.old_max_rows]
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            path = Path(tmp) / "upload.csv"
            generate_csv(path, rows)
            mb = path.stat().st_size / 1e6
            results = {mode: measure(mode, path, args.batch_rows) for mode in modes}
        assert all(r["rows"] == rows for r in results.values()), results
        a, b, c = (results.get(m) for m in MODES)
        assert a is not None and c is not None
        for mode in modes:
            r = results[mode]
            imports[mode] = r["import_rss"]
            ratios = ""
            if mode == "stream":
                ratios = f"{c['wall'] / a['wall']:>9.2f} {c['peak_rss'] / a['peak_rss']:>8.2f}"
                if b is not None:
                    ratios += (
                        f" {c['wall'] / b['wall']:>9.2f} {c['peak_rss'] / b['peak_rss']:>8.2f}"
                    )
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
