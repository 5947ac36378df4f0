#!/usr/bin/env bash
# The main job, end to end on a fresh machine: stack up (Postgres, S3, Druid), Dagster up
# (webserver + daemon with the upload sensor on), a sample file uploaded and ingested by the
# sensor's run, and the result queried from Druid. The stack keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source .venv/bin/activate
export INGEST_STACK_DIR=${INGEST_STACK_DIR:-$PWD/.stack}
export INGEST_SENSOR_INTERVAL_SECONDS=${INGEST_SENSOR_INTERVAL_SECONDS:-5}

ingest-pipeline stack up --dagster
set -a; source "$INGEST_STACK_DIR/stack.env"; set +a

ingest-pipeline upload examples/orders.csv --dataset demo_orders --wait 600
ingest-pipeline query \
  'SELECT region, COUNT(*) AS orders, SUM(quantity) AS units, ROUND(SUM(quantity * unit_price), 2) AS revenue
   FROM demo_orders GROUP BY region ORDER BY region'

cat <<MSG

Dagster UI:  http://127.0.0.1:3000  (asset lineage, runs, checks; partition demo_orders/orders.csv)
Druid:       $INGEST_DRUID_ROUTER_URL
More files:  ingest-pipeline upload <files|folders|globs> [--dataset <name>] [--wait 300]
Status:      ingest-pipeline status [<dataset>]
Stop:        source .venv/bin/activate && INGEST_STACK_DIR=$INGEST_STACK_DIR ingest-pipeline stack down
MSG
