#!/usr/bin/env bash
# Builds the local control plane's servers (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from published Go modules, once, into a cache folder
# keyed by every version. Prints the folder on its last line.
# Why wrapper modules: see docs/adr/0002-local-control-plane.md.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.14}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
GO_VERSION="$(go env GOVERSION)"
KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_helm-${HELM_VERSION}_${GO_VERSION}"
OUT="$CACHE_ROOT/bin/$KEY"
TOOLS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kwok helm)

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

TAG=build-binaries
# shellcheck source=cluster/build-common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/build-common.sh"
have_all() { for t in "${TOOLS[@]}"; do exe "$OUT/$t" || return 1; done; [ -d "$OUT/kwok-stages" ]; }
if have_all; then echo "$OUT"; exit 0; fi

mkdir -p "$OUT" "$CACHE_ROOT/work"
take_lock build.lock
start_work build
start=$(date +%s)
log "building into $OUT (from empty Go caches: 20-45 minutes on 2 cores; later runs reuse it)"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
staging_v="v0.${K8S_VERSION#v1.}"

build_kubernetes() {
  local m="$WORK/src/kubernetes"; mkdir -p "$m"; cd "$m"
  go mod init peernet.local/k8s-build >/dev/null 2>&1
  local gomod; gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')"
  local staging; staging="$(grep '=> ./staging' "$gomod" | awk '{print $1}')"
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  for s in $staging; do go mod edit -replace="$s=$s@$staging_v"; done
  local pkgs=(cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler cmd/kubectl cmd/kubelet cmd/kube-proxy)
  local ld=""
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  done
  log "resolving Kubernetes $K8S_VERSION modules"
  go get "k8s.io/kubernetes@$K8S_VERSION" >/dev/null 2>&1 || true
  for p in "${pkgs[@]}"; do
    local name t; name="$(basename "$p")"; t=$(date +%s)
    exe "$OUT/$name" && continue
    log "building $name (Kubernetes $K8S_VERSION)"; heartbeat "$name"
    # Into the work folder first, then renamed: an interrupted build never leaves a partial binary.
    go build -trimpath -ldflags "-s -w $ld" -o "$WORK/$name" "k8s.io/kubernetes/$p"
    mv "$WORK/$name" "$OUT/$name"
    done_step "$name" "$t"
  done
}

build_etcd() {
  # The wrapper module lives under src/: built into the folder that holds it, `go build -o` would
  # write the binary *inside* that folder (as `server`), and the folder would pass for etcd.
  local m="$WORK/src/etcd"; mkdir -p "$m"; cd "$m"
  go mod init peernet.local/etcd-build >/dev/null 2>&1
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  for s in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    go mod edit -replace="go.etcd.io/etcd/$s=go.etcd.io/etcd/$s@$ETCD_VERSION"
  done
  local t; t=$(date +%s)
  log "building etcd $ETCD_VERSION"; heartbeat etcd
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 || true
  go build -trimpath -ldflags "-s -w" -o "$WORK/etcd" go.etcd.io/etcd/server/v3
  mv "$WORK/etcd" "$OUT/etcd"
  done_step etcd "$t"
}

build_kwok() {
  local t; t=$(date +%s)
  log "building kwok $KWOK_VERSION"; heartbeat kwok
  GOBIN="$WORK/gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$WORK/gobin/kwok" "$OUT/kwok"
  done_step kwok "$t"
  # kwok ships its stage definitions only as kustomize files inside the module.
  local dir; dir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  rm -rf "$OUT/kwok-stages" "$WORK/kwok-stages"; mkdir -p "$WORK/kwok-stages"
  cp -r "$dir/kustomize/stage/." "$WORK/kwok-stages/"; chmod -R u+w "$WORK/kwok-stages"
  mv "$WORK/kwok-stages" "$OUT/kwok-stages"
}

build_helm() {
  local t; t=$(date +%s)
  log "building helm $HELM_VERSION"; heartbeat helm
  local ld="-s -w"
  for v in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld+=" -X $v.k8sVersionMajor=1 -X $v.k8sVersionMinor=$minor"
  done
  ld+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  GOBIN="$WORK/gobin" go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$WORK/gobin/helm" "$OUT/helm"
  done_step helm "$t"
}

exe "$OUT/kwok" && [ -d "$OUT/kwok-stages" ] || build_kwok
exe "$OUT/helm" || build_helm
if ! exe "$OUT/etcd"; then rm -rf "$OUT/etcd"; build_etcd; fi
have_all || build_kubernetes
have_all || { log "build finished but binaries are missing in $OUT"; exit 1; }
log "all binaries ready in $(( $(date +%s) - start ))s"
echo "$OUT"
