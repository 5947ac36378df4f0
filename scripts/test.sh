#!/usr/bin/env bash
# Sets up a fresh machine, brings the real stack up (Postgres, S3 server, Druid), runs ruff, mypy and
# the whole test suite against it, and brings the stack down again (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate
# The stack is the checkout's .stack (or $INGEST_STACK_DIR), as for the demo and every command:
# a running one is reused (and, as before, stopped at the end).

started=$(date +%s)
ingest-pipeline stack up
echo "[test] stack up took $(( $(date +%s) - started ))s"
trap 'ingest-pipeline stack down >/dev/null || true' EXIT

ruff check ingest_pipeline ingest_pipeline_tests benchmarks
mypy  # ingest_pipeline, as [tool.mypy] in pyproject.toml says
# --durations: where the suite's time goes, in every CI log
pytest --durations=40 "$@"
