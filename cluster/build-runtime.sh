#!/usr/bin/env bash
# Builds what a real kubelet needs on the host besides runc (from Debian): containerd 2.x with its
# runc shim and ctr, a CoreDNS with only the cluster DNS plugins, the pod sandbox's pause binary,
# rancher's local-path-provisioner (the dynamic provisioner of the real nodes' volumes) and MetalLB's
# controller and speaker with its CRDs (the load balancer of LoadBalancer Services), from published
# Go modules and our own sources, once, into a cache folder keyed by every version. Prints the
# folder on its last line. See /work/shared/notes/real-runtime.md.
set -euo pipefail

CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.4.2}"
# CoreDNS keeps its own go.mod (k8s.io v0.37). Pinning k8s.io to the Kubernetes build's v0.36
# needs `replace` directives, and with -trimpath a replaced module's build cache key names the
# required version, not the replacement: the pin would share no package with build-binaries.sh.
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
LOCAL_PATH_PROVISIONER_VERSION="${LOCAL_PATH_PROVISIONER_VERSION:-v0.0.30}"
# v0.16.x needs github.com/metallb/frr-k8s v0.0.27, which the Go module proxy does not serve here
METALLB_VERSION="${METALLB_VERSION:-v0.15.2}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
GO_VERSION="$(go env GOVERSION)"
# Our own Go sources are part of the key: editing them must rebuild.
SRC_HASH="$(cat "$HERE/pause/main.go" "$HERE/pause/go.mod" "$HERE/coredns/main.go" | sha256sum | cut -c1-12)"
KEY="containerd-${CONTAINERD_VERSION}_coredns-${COREDNS_VERSION}_lpp-${LOCAL_PATH_PROVISIONER_VERSION}_metallb-${METALLB_VERSION}_src-${SRC_HASH}_${GO_VERSION}"
OUT="$CACHE_ROOT/runtime/$KEY"
TOOLS=(containerd containerd-shim-runc-v2 ctr coredns pause local-path-provisioner metallb-controller metallb-speaker)

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

TAG=build-runtime
# shellcheck source=cluster/build-common.sh
. "$HERE/build-common.sh"
have_all() {
  for t in "${TOOLS[@]}"; do exe "$OUT/$t" || return 1; done
  [ -f "$OUT/metallb-crds.yaml" ]
}
if have_all; then echo "$OUT"; exit 0; fi

mkdir -p "$OUT" "$CACHE_ROOT/work"
# Its own lock: it may run next to build-binaries.sh, but only once per cache.
take_lock runtime-build.lock
start_work runtime
start=$(date +%s)
log "building into $OUT (from empty Go caches: 10-25 minutes on 2 cores; later runs reuse it)"

# A binary that does not even print its version is not moved into the cache.
install_checked() {
  local name="$1"; shift
  "$WORK/$name" "$@" >/dev/null 2>&1 || { log "$name $* failed"; exit 1; }
  mv "$WORK/$name" "$OUT/$name"
}

build_pause() {
  local t; t=$(date +%s)
  log "building pause"
  go build -C "$HERE/pause" -trimpath -ldflags "-s -w" -o "$WORK/pause" .
  mv "$WORK/pause" "$OUT/pause"
  done_step pause "$t"
}

build_containerd() {
  local mod=github.com/containerd/containerd/v2
  # Upstream's Makefile tags; btrfs needs cgo, and only the overlayfs and native snapshotters
  # are used here. The shim gets no_grpc as upstream builds it (ttrpc only).
  local tags="urfave_cli_no_docs no_btrfs no_devmapper no_zfs"
  local ld="-s -w -X $mod/version.Version=$CONTAINERD_VERSION -X $mod/version.Package=$mod"
  local t; t=$(date +%s)
  log "building containerd and ctr $CONTAINERD_VERSION"; heartbeat containerd
  GOBIN="$WORK/gobin" go install -trimpath -tags "$tags" -ldflags "$ld" \
    "$mod/cmd/containerd@$CONTAINERD_VERSION" "$mod/cmd/ctr@$CONTAINERD_VERSION"
  done_step "containerd and ctr" "$t"
  t=$(date +%s)
  log "building containerd-shim-runc-v2 $CONTAINERD_VERSION"; heartbeat containerd-shim-runc-v2
  GOBIN="$WORK/gobin" go install -trimpath -tags "$tags no_grpc" -ldflags "$ld" \
    "$mod/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
  done_step containerd-shim-runc-v2 "$t"
  mv "$WORK/gobin/"* "$WORK/"
  install_checked containerd --version
  install_checked ctr --version
  install_checked containerd-shim-runc-v2 -v
}

build_coredns() {
  local m="$WORK/src/coredns"; mkdir -p "$m"; cd "$m"
  cp "$HERE/coredns/main.go" .
  go mod init peernet.local/coredns-build >/dev/null 2>&1
  go mod edit -require="github.com/coredns/coredns@$COREDNS_VERSION"
  local t; t=$(date +%s)
  log "building coredns $COREDNS_VERSION"; heartbeat coredns
  go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.gitTag=$COREDNS_VERSION" \
    -o "$WORK/coredns" .
  done_step coredns "$t"
  install_checked coredns -version
}

build_local_path_provisioner() {
  local t; t=$(date +%s)
  log "building local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION"; heartbeat local-path-provisioner
  GOBIN="$WORK/gobin-lpp" go install -trimpath -ldflags "-s -w -X main.VERSION=${LOCAL_PATH_PROVISIONER_VERSION#v}" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
  mv "$WORK/gobin-lpp/local-path-provisioner" "$WORK/local-path-provisioner"
  done_step local-path-provisioner "$t"
  install_checked local-path-provisioner --version
}

build_metallb() {
  local t; t=$(date +%s)
  log "building MetalLB $METALLB_VERSION (controller and speaker)"; heartbeat metallb
  GOBIN="$WORK/gobin-metallb" go install -trimpath -ldflags "-s -w" \
    "go.universe.tf/metallb/controller@$METALLB_VERSION" "go.universe.tf/metallb/speaker@$METALLB_VERSION"
  done_step metallb "$t"
  mv "$WORK/gobin-metallb/controller" "$OUT/metallb-controller"
  mv "$WORK/gobin-metallb/speaker" "$OUT/metallb-speaker"
  # its CRDs (IPAddressPool, L2Advertisement, ...) from the same module, one file
  local src
  src="$(go mod download -json "go.universe.tf/metallb@$METALLB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  for f in "$src"/config/crd/bases/*.yaml; do printf -- '---\n'; cat "$f"; done > "$WORK/metallb-crds.yaml"
  mv "$WORK/metallb-crds.yaml" "$OUT/metallb-crds.yaml"
}

exe "$OUT/pause" || build_pause
{ exe "$OUT/containerd" && exe "$OUT/ctr" && exe "$OUT/containerd-shim-runc-v2"; } || build_containerd
exe "$OUT/coredns" || build_coredns
exe "$OUT/local-path-provisioner" || build_local_path_provisioner
{ exe "$OUT/metallb-controller" && exe "$OUT/metallb-speaker" && [ -f "$OUT/metallb-crds.yaml" ]; } || build_metallb
have_all || { log "build finished but binaries are missing in $OUT"; exit 1; }
log "all runtime binaries ready in $(( $(date +%s) - start ))s"
echo "$OUT"
