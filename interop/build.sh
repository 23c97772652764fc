#!/usr/bin/env bash
# Builds peernet-interop (interop/go: a go-libp2p + go-libp2p-kad-dht peer that joins a peernet
# network) from the Go module proxy, once, into a cache folder keyed by the Go version and a hash
# of its go.mod, go.sum and sources (so a change of any version or line builds anew). Prints the
# folder on its last line. Used by .ci/run and by test/peer/interop.test.ts when it is missing.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/go" && pwd)"
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
GO_VERSION="$(go env GOVERSION)"
mod_version() { awk -v m="$1" '$1 == m { print $2; exit }' "$SRC/go.mod"; }
HASH="$(cd "$SRC" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)"
KEY="interop_go-libp2p-$(mod_version github.com/libp2p/go-libp2p)_kad-dht-$(mod_version github.com/libp2p/go-libp2p-kad-dht)_${GO_VERSION}_${HASH}"
OUT="$CACHE_ROOT/bin/$KEY"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly

TAG=build-interop
# shellcheck source=cluster/build-common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../cluster" && pwd)/build-common.sh"
have_all() { exe "$OUT/peernet-interop"; }
if have_all; then echo "$OUT"; exit 0; fi

mkdir -p "$OUT" "$CACHE_ROOT/work"
take_lock interop.lock
start_work interop
t=$(date +%s)
log "building peernet-interop into $OUT (from empty Go caches: a few minutes on 2 cores)"
heartbeat peernet-interop
(cd "$SRC" && go build -trimpath -ldflags "-s -w" -o "$WORK/peernet-interop" .)
mv "$WORK/peernet-interop" "$OUT/peernet-interop"
done_step peernet-interop "$t"
echo "$OUT"
