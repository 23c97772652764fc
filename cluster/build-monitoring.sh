#!/usr/bin/env bash
# Builds the monitoring stack the chart's monitoring is checked against (test/e2e/monitoring):
# Prometheus (its Kubernetes service discovery only) and the Prometheus Operator, both from the Go
# module proxy, and takes the Operator's CRDs (monitoring.coreos.com) from its module. Cached
# in a folder keyed by the versions and the Go version; the fetched modules stay in Go's module
# cache, never in git. Prints the folder on its last line: prometheus, prometheus-operator and
# crds/ in it.
set -euo pipefail
PROMETHEUS_VERSION=v0.316.0 # Prometheus 3.16 (the Go module's versions are v0.3MM.P)
OPERATOR_VERSION=v0.85.0
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
out="$CACHE_ROOT/bin/monitoring-prometheus-${PROMETHEUS_VERSION}-operator-${OPERATOR_VERSION}-$(go env GOVERSION)"
if [ -x "$out/prometheus" ] && [ -x "$out/prometheus-operator" ] && [ -f "$out/crds/scrapeconfigs.yaml" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$out/crds"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly

if [ ! -x "$out/prometheus" ]; then
  echo "[build-monitoring] building Prometheus $PROMETHEUS_VERSION" >&2
  # remove_all_sd leaves out the cloud discoveries; enable_kubernetes_sd keeps the one we use
  GOFLAGS= GOBIN="$work/bin" go install -trimpath -ldflags "-s -w" -tags "remove_all_sd enable_kubernetes_sd" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"
  # into a temporary name first: an interrupted build never leaves a partial binary
  mv "$work/bin/prometheus" "$out/prometheus.tmp.$$" && mv "$out/prometheus.tmp.$$" "$out/prometheus"
fi

# The Operator's go.mod replaces its own submodules (pkg/apis/monitoring, pkg/client) with folders
# that its module zip leaves out, so `go install @version` refuses it: build inside a writable copy
# of the downloaded module, its submodules taken at the same version from the proxy instead.
src="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$OPERATOR_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || { echo "[build-monitoring] could not download the Prometheus Operator" >&2; exit 1; }
if [ ! -x "$out/prometheus-operator" ]; then
  echo "[build-monitoring] building the Prometheus Operator $OPERATOR_VERSION" >&2
  cp -r "$src" "$work/operator" && chmod -R u+w "$work/operator"
  go mod edit -C "$work/operator" \
    -dropreplace=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring \
    -dropreplace=github.com/prometheus-operator/prometheus-operator/pkg/client
  GOFLAGS=-mod=mod go build -C "$work/operator" -trimpath -ldflags "-s -w" -o "$out/prometheus-operator.tmp.$$" ./cmd/operator
  mv "$out/prometheus-operator.tmp.$$" "$out/prometheus-operator"
fi
# all of them: the Operator's Prometheus controller watches rules, probes and scrape configs too
for f in "$src"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml; do
  kind="$(basename "$f" .yaml)"; kind="${kind#monitoring.coreos.com_}"
  cp "$f" "$out/crds/$kind.yaml.tmp" && chmod u+w "$out/crds/$kind.yaml.tmp"
  mv "$out/crds/$kind.yaml.tmp" "$out/crds/$kind.yaml"
done
echo "$out"
