#!/usr/bin/env bash
# Builds the local stack's S3 server, SeaweedFS `weed`, once into ~/.cache/ingest-pipeline/seaweedfs
# (reused afterwards). SeaweedFS is a persistent Apache-2.0 object store; the Go module proxy
# serves its source, and `go install` refuses it (its go.mod has a replace directive), so the
# downloaded module is built as the main module. Needs Go >= 1.26.6 (GOTOOLCHAIN=auto fetches it
# from the same proxy when the local Go is older). First build: ~5-15 min, ~2.6 GB RAM peak.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^SEAWEEDFS_VERSION = "\(.*\)"$/\1/p' ingest_pipeline/stack/s3_store.py)
cache=${INGEST_S3_STORE_CACHE:-$HOME/.cache/ingest-pipeline/seaweedfs}
binary="$cache/$version/weed"
if [[ -x "$binary" ]]; then
  exit 0
fi
export PATH="$PATH:/usr/local/go/bin"
# a toolchain scripts/setup.sh fetched when the system's Go was too old for GOTOOLCHAIN
[[ -x $HOME/.cache/ingest-pipeline/go/bin/go ]] && export PATH="$HOME/.cache/ingest-pipeline/go/bin:$PATH"
command -v go >/dev/null || { echo "[s3-store] Go is needed to build SeaweedFS (apt-get install golang-go, or a Go from go.dev)" >&2; exit 1; }
echo "[s3-store] building SeaweedFS $version into $cache (first run only: ~5-15 min, ~4 GB of temporary build caches)"
work=$(mktemp -d "${TMPDIR:-/tmp}/seaweedfs-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOPATH="$work/gopath" GOCACHE="$work/gocache" GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
started=$(date +%s)
dir=$(go mod download -json "github.com/seaweedfs/seaweedfs@$version" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
mkdir -p "$cache/$version"
(cd "$work/src" && nice -n 10 go build -trimpath -ldflags="-s -w" -o "$binary.tmp" ./weed)
mv "$binary.tmp" "$binary"
echo "[s3-store] built $binary in $(( $(date +%s) - started ))s ($(du -h "$binary" | cut -f1))"
