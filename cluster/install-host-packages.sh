#!/usr/bin/env bash
# Installs the Debian packages the real nodes and image builds use, when missing (root):
# runc and the CNI plugins (containerd itself is built from Go modules), iptables and conntrack
# for kube-proxy and the kubelet, buildah and mmdebstrap for images, openssl for the cluster CA,
# busybox-static for the image of the volume provisioner's helper pods.
set -euo pipefail
PACKAGES=(runc containernetworking-plugins iptables conntrack buildah mmdebstrap openssl iproute2 util-linux busybox-static)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "[host-packages] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
