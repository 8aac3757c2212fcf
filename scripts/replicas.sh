#!/usr/bin/env bash
# Several auth-manager processes against the local stack, without containers: what a
# multi-replica deployment looks like, for replica tests and for operators to watch.
#
#   scripts/replicas.sh [up]    build, migrate once, start the replicas that are not
#                               running, wait until each answers /health/ready
#   scripts/replicas.sh down    SIGTERM them (graceful drain), SIGKILL after the grace period
#   scripts/replicas.sh restart down, then up (picks up a new build)
#   scripts/replicas.sh status  what runs; exit 0 only if every replica is ready
#
# Replica i listens on 127.0.0.1:<port i> (REPLICAS_PORTS, default "8001 8002 8003").
# Configuration: deploy/dev.env through `scripts/stack.sh env` (so DATABASE_URL and
# KEYCLOAK_PORT overrides apply); any variable already in the environment wins. Each
# replica gets its own HOST/PORT and consent callback URL; migrations run once, before
# the replicas start, which then skip them (concurrent starts would race). Binary, pid
# files and logs live in $AUTH_MANAGER_CACHE/replicas (default ~/.cache/auth-manager).
# The stack must be up (`make replicas` brings it up first).
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly DIR=${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}/replicas
readonly BIN=$DIR/auth-manager
read -r -a PORTS <<<"${REPLICAS_PORTS:-8001 8002 8003}"
readonly PORTS
readonly READY_TIMEOUT=${REPLICAS_READY_TIMEOUT:-60}

log() { printf '[replicas] %s\n' "$*" >&2; }
die() { printf '[replicas] ERROR: %s\n' "$*" >&2; exit 1; }

take_lock() {
  mkdir -p "$DIR"
  exec 9>"$DIR/replicas.lock"
  flock -w 300 9 || die "another scripts/replicas.sh holds $DIR/replicas.lock"
}

pid_file() { echo "$DIR/replica-$1.pid"; }
log_file() { echo "$DIR/replica-$1.log"; }

# Pid of the replica on port $1 if it runs our binary; the cmdline check guards against
# a recycled pid.
replica_pid() {
  local pid
  pid=$(cat "$(pid_file "$1")" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") == "$BIN serve "* ]] || return 1
  echo "$pid"
}

ready() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/health/ready" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Exports deploy/dev.env (as the stack describes it) for every variable not already set.
load_env() {
  local line key
  while IFS= read -r line; do
    [[ $line =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    [[ -v $key ]] || export "$key=${BASH_REMATCH[2]}"
  done < <("$REPO_ROOT/scripts/stack.sh" env)
}

build() {
  log "building $BIN"
  local tmp=$BIN.new.$$
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X main.version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
    -o "$tmp" ./cmd/auth-manager) || { rm -f "$tmp"; die "go build failed"; }
  # rename: running replicas keep executing the old file.
  mv -f "$tmp" "$BIN"
}

start() {
  local port=$1
  if port_busy "$port"; then
    die "127.0.0.1:$port is taken by something that is not a replica of this script"
  fi
  # Own session (survives the calling shell); fd 9 closed so that a replica never holds the lock.
  (
    exec 9>&-
    cd "$DIR"
    export HOST=127.0.0.1 PORT=$port AUTH_MANAGER_SKIP_MIGRATIONS=true
    export KEYCLOAK_CONSENT_REDIRECT_URI=http://127.0.0.1:$port/v1/offline-token/callback
    # shellcheck disable=SC2016 # $$ and $0 are for the inner shell: it records its own pid
    exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$(pid_file "$port")" \
      "$BIN" serve >"$(log_file "$port")" 2>&1 </dev/null
  ) &
  local i
  for ((i = 0; i < 50; i++)); do
    replica_pid "$port" >/dev/null && return
    sleep 0.1
  done
  die "replica on :$port did not start; see $(log_file "$port")"
}

wait_ready() {
  local port=$1 i
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    ready "$port" && return
    if ! replica_pid "$port" >/dev/null; then
      tail -n 20 "$(log_file "$port")" >&2 || true
      die "replica on :$port exited; log $(log_file "$port")"
    fi
    sleep 0.2
  done
  tail -n 20 "$(log_file "$port")" >&2 || true
  die "replica on :$port not ready after ${READY_TIMEOUT}s; log $(log_file "$port")"
}

cmd_up() {
  take_lock
  load_env
  build
  local port pid missing=()
  for port in "${PORTS[@]}"; do
    if pid=$(replica_pid "$port"); then
      log ":$port already running (pid $pid)"
    else
      missing+=("$port")
    fi
  done
  if ((${#missing[@]} > 0)); then
    log "migrating $(sed -E 's#(://[^:/@]+:)[^@]*@#\1***@#' <<<"$DATABASE_URL")"
    (cd "$DIR" && "$BIN" migrate up) >&2 || die "auth-manager migrate up failed (is the stack up? make stack-up)"
    for port in "${missing[@]}"; do
      start "$port"
    done
  fi
  for port in "${PORTS[@]}"; do
    wait_ready "$port"
    log ":$port ready (pid $(replica_pid "$port"), log $(log_file "$port"))"
  done
  log "${#PORTS[@]} replicas on ${PORTS[*]}; stop them with scripts/replicas.sh down"
}

cmd_down() {
  take_lock
  local port pid i grace=$((${SHUTDOWN_DRAIN_DELAY:-0} + ${SHUTDOWN_TIMEOUT:-20} + 5))
  for port in "${PORTS[@]}"; do
    if ! pid=$(replica_pid "$port"); then
      rm -f "$(pid_file "$port")"
      continue
    fi
    log "stopping :$port (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for port in "${PORTS[@]}"; do
    if ! pid=$(replica_pid "$port"); then
      rm -f "$(pid_file "$port")"
      continue
    fi
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log ":$port still running after ${grace}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$port")"
  done
  log "stopped"
}

cmd_status() {
  local port pid rc=0
  for port in "${PORTS[@]}"; do
    if pid=$(replica_pid "$port"); then
      if ready "$port"; then
        log ":$port ready (pid $pid)"
      else
        log ":$port running (pid $pid) but NOT ready"
        rc=1
      fi
    else
      log ":$port not running"
      rc=1
    fi
  done
  return $rc
}

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

case ${1:-up} in
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_down && cmd_up ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
