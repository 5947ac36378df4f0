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
# --durations: where the suite's time goes, in every CI log. With no arguments: the fast suite
# on both cores (its tests share no server); then the integration tests, two modules at a time on
# the one stack (most of their time is waiting on Druid, the daemon and the sensor; each worker
# has its own Dagster database, each test its own datasets and keys); last, one at a time, the
# tests that kill, pause or restart a server the others share or read the one events queue
# (marker serial).
if [[ $# -gt 0 ]]; then
  pytest --durations=40 "$@"
else
  pytest -m "not stack" -n 2 --durations=10
  pytest -m "stack and not serial" -n 2 --dist loadfile --durations=40
  pytest -m "stack and serial" --durations=20
fi

# CI (.ci/run) ends with a short soak under chaos on the same stack (issue #25): uploads while
# services are killed, then exact accounting; a violation, or too few uploads or faults, fails.
if [[ "${INGEST_CI_SOAK_MINUTES:-0}" != 0 ]]; then
  started=$(date +%s)
  python benchmarks/soak.py --minutes "$INGEST_CI_SOAK_MINUTES" --rate 28 --seed 7 --events \
    --fault-gap 25,45 --quiet-timeout 1200 --min-uploads 90 --min-faults 5
  echo "[test] soak took $(( $(date +%s) - started ))s"
fi
