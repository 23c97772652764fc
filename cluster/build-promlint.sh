#!/usr/bin/env bash
# Builds tools/promlint (the linter behind `promtool check metrics`, from client_golang on the Go
# module proxy) once into a cache folder keyed by its go.sum and the Go version; the fetched
# modules stay in Go's module cache, never in git. Prints the binary's path on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$here/tools/promlint"
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
key="$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-16)_$(go env GOVERSION)"
out="$CACHE_ROOT/bin/promlint-$key/promlint"
if [ -x "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$(dirname "$out")"
cd "$src"
# into a temporary name first: an interrupted build never leaves a partial binary
CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -trimpath -o "$out.tmp.$$" .
mv "$out.tmp.$$" "$out"
echo "$out"
