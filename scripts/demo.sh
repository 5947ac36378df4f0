#!/usr/bin/env bash
# The main job, end to end on a fresh machine: stack up (Postgres, S3, Druid), Dagster up
# (webserver + daemon with the upload sensor on), a sample file uploaded and ingested by the
# sensor's run, and the result queried from Druid. The stack keeps running afterwards, in the
# folder every ingest-pipeline command looks in (the checkout's .stack, or $INGEST_STACK_DIR),
# so the commands printed at the end work in a new shell after `source .venv/bin/activate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate
export INGEST_SENSOR_INTERVAL_SECONDS=${INGEST_SENSOR_INTERVAL_SECONDS:-5}

ingest-pipeline stack up --dagster
ingest-pipeline upload examples/orders.csv --dataset demo_orders --wait 600
ingest-pipeline query \
  'SELECT region, COUNT(*) AS orders, SUM(quantity) AS units, ROUND(SUM(quantity * unit_price), 2) AS revenue
   FROM demo_orders GROUP BY region ORDER BY region'

stack_dir=$(python -c 'from ingest_pipeline.stack.settings import default_stack_dir; print(default_stack_dir())')
router=$(sed -n 's/^INGEST_DRUID_ROUTER_URL=//p' "$stack_dir/stack.env")
cat <<MSG

Dagster UI:  http://127.0.0.1:3000  (asset lineage, runs, checks; partition demo_orders/orders.csv)
Druid:       $router
Stack:       $stack_dir (ingest-pipeline stack status: every service and endpoint)

In a new shell: source .venv/bin/activate, then
More files:  ingest-pipeline upload <files|folders|globs> [--dataset <name>] [--wait 300]
Status:      ingest-pipeline status [<dataset>]
Query:       ingest-pipeline query 'SELECT COUNT(*) AS n FROM demo_orders'
Stop:        ingest-pipeline stack down
MSG
if [[ -n "${INGEST_STACK_DIR:-}" ]]; then
  echo "(INGEST_STACK_DIR chose this stack's folder: export it in that shell too)"
fi
