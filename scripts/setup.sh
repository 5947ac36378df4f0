#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: Java 17, Maven, PostgreSQL's server
# and chromium (browser tests) from apt (only what is missing), a Go able to build the S3 store,
# and the project with its test extras in .venv. Druid is resolved by Maven and the S3 store
# (SeaweedFS) is built by scripts/build_s3_store.sh on the first `ingest-pipeline stack up`,
# both into ~/.cache.
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

# Go >= 1.26.6 builds the S3 store (SeaweedFS) once, on the first `stack up`. A Go >= 1.21 is
# enough here: the build runs with GOTOOLCHAIN=auto, which fetches the newer toolchain from the
# Go module proxy. No Go at all: Debian's golang-go.
GO_MIN=1.26.6
export PATH="$PATH:/usr/local/go/bin"
version_ge() { [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" == "$2" ]]; }
if ! command -v go >/dev/null; then
  echo "[setup] apt-get install golang-go (builds the S3 store once)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go >/dev/null
fi
go_cache=$HOME/.cache/ingest-pipeline/go  # a Go toolchain fetched below, used by the build
[[ -x $go_cache/bin/go ]] && export PATH="$go_cache/bin:$PATH"
go_version=$(GOTOOLCHAIN=local go env GOVERSION | sed 's/^go//')
if ! version_ge "$go_version" 1.21; then
  # Too old for GOTOOLCHAIN (Debian 12's golang-go is 1.19): fetch the toolchain module from the
  # Go module proxy with this Go, once, into ~/.cache/ingest-pipeline/go.
  toolchain="golang.org/toolchain@v0.0.1-go$GO_MIN.linux-$(go env GOARCH)"
  echo "[setup] Go $go_version is too old to build the S3 store: fetching $toolchain"
  tmp=$(mktemp -d)
  dir=$(GOPATH=$tmp GOFLAGS=-modcacherw go mod download -json "$toolchain" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$(dirname "$go_cache")" && rm -rf "$go_cache" && cp -r "$dir" "$go_cache"
  rm -rf "$tmp"
  chmod -R u+w "$go_cache" && chmod +x "$go_cache"/bin/* "$go_cache"/pkg/tool/*/*
  export PATH="$go_cache/bin:$PATH"
  go_version=$(GOTOOLCHAIN=local go env GOVERSION | sed 's/^go//')
elif ! version_ge "$go_version" "$GO_MIN"; then
  echo "[setup] Go $go_version < $GO_MIN: the S3 store's first build fetches Go $GO_MIN+ (GOTOOLCHAIN=auto)"
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
.venv/bin/pip install -q -e '.[test]'
echo "[setup] ready: $(.venv/bin/python --version), $(java -version 2>&1 | head -1), $(mvn -v 2>/dev/null | head -1), go $go_version"
