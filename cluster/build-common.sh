# Sourced by cluster/build-binaries.sh and cluster/build-runtime.sh: the lock, the work folder
# and the progress lines they share. The sourcing script sets TAG, CACHE_ROOT and OUT and
# defines have_all (true when every binary is in $OUT).

# a built tool is a regular executable file (a folder of that name is not)
exe() { [ -f "$1" ] && [ -x "$1" ]; }
log() { echo "[$TAG] $*" >&2; }

# One build at a time per cache and lock: a second run (another engineer, a test's global
# setup, CI) waits for the first and then finds everything built.
take_lock() {
  local lock="$CACHE_ROOT/$1"
  exec 9>"$lock"
  if ! flock -n 9; then
    log "another build holds $lock; waiting for it"
    flock 9
  fi
  if have_all; then log "built by the other run"; echo "$OUT"; exit 0; fi
}

# A work folder removed on exit, so an interrupted build never leaves a partial binary in $OUT.
HEARTBEAT=""
start_work() {
  WORK="$(mktemp -d "$CACHE_ROOT/work/$1.XXXXXX")"
  trap 'stop_heartbeat; rm -rf "$WORK"' EXIT
}

# A Go build is silent for minutes: say every minute that it is still going.
heartbeat() {
  local what="$1" t0; t0=$(date +%s)
  ( while sleep 60; do log "... still building $what ($(( $(date +%s) - t0 ))s)"; done ) &
  HEARTBEAT=$!
}
# The heartbeat subshell and its `sleep` child, by pid.
stop_heartbeat() {
  if [ -n "$HEARTBEAT" ]; then
    kill $(pgrep -P "$HEARTBEAT") "$HEARTBEAT" 2>/dev/null || true
    HEARTBEAT=""
  fi
}
done_step() {
  stop_heartbeat
  log "$1 done in $(( $(date +%s) - $2 ))s"
}
