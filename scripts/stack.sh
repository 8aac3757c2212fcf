#!/usr/bin/env bash
# Local dev/test stack for auth-manager: PostgreSQL, PgBouncer and Keycloak, no Docker.
#
#   scripts/stack.sh up     [postgres|pgbouncer|keycloak]   start what is missing (idempotent)
#   scripts/stack.sh down   [postgres|pgbouncer|keycloak]   stop what this script started
#   scripts/stack.sh status [postgres|pgbouncer|keycloak]   what runs; exit 0 only if all of it is up
#   scripts/stack.sh env    [--export]                      the dev/test environment (deploy/dev.env)
#   scripts/stack.sh reset                                  wipe Keycloak's data, re-import the realms, up
#
# Environment (all optional):
#   DATABASE_URL            default postgres://auth_manager:auth_manager@127.0.0.1:5432/auth_manager?sslmode=disable
#   PGBOUNCER_PORT          default 6432 (PgBouncer, transaction mode, in front of that PostgreSQL)
#   KEYCLOAK_PORT           default 8080 (HTTP)
#   KEYCLOAK_MGMT_PORT      default 9000 (health)
#   KEYCLOAK_START_TIMEOUT  default 240 (seconds to wait for /health/ready)
#   AUTH_MANAGER_CACHE      default ~/.cache/auth-manager (Keycloak install, log, pid, state)
#   MAVEN_REPO_LOCAL        default ~/.m2/repository
#
# Works on a fresh Debian 12 as root: installs postgresql, pgbouncer, a JDK 17, maven
# and curl with apt-get when they are missing, and Keycloak from Maven Central.
set -euo pipefail
# C locale: $EPOCHREALTIME and awk must agree on the decimal point.
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly REALM_DIR=$REPO_ROOT/deploy/keycloak
readonly DEV_ENV_FILE=$REPO_ROOT/deploy/dev.env

readonly KC_VERSION=26.5.6
readonly DEFAULT_DATABASE_URL='postgres://auth_manager:auth_manager@127.0.0.1:5432/auth_manager?sslmode=disable'
DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}

readonly CACHE_DIR=${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}
readonly KC_HOME=$CACHE_DIR/keycloak-$KC_VERSION
readonly KC_PID_FILE=$CACHE_DIR/keycloak.pid
readonly KC_LOG=$CACHE_DIR/keycloak.log
# Lives next to data/h2: it describes the realm files that H2 database was imported from.
readonly KC_REALM_HASH_FILE=$KC_HOME/data/realm-files.sha256
readonly KC_PORT=${KEYCLOAK_PORT:-8080}
readonly KC_MGMT_PORT=${KEYCLOAK_MGMT_PORT:-9000}
# The first start re-augments Quarkus; on 2 busy cores it has taken 85 s.
readonly KC_START_TIMEOUT=${KEYCLOAK_START_TIMEOUT:-240}
readonly KC_STOP_TIMEOUT=30
readonly KC_URL=http://127.0.0.1:$KC_PORT
readonly M2_REPO=${MAVEN_REPO_LOCAL:-$HOME/.m2/repository}
readonly KC_TARBALL=$M2_REPO/org/keycloak/keycloak-quarkus-dist/$KC_VERSION/keycloak-quarkus-dist-$KC_VERSION.tar.gz

# "<version> <cluster>" of a PostgreSQL cluster this script started, so that `down`
# never stops a server somebody else runs.
readonly PG_STARTED_FILE=$CACHE_DIR/postgres-started-by-stack

# ---------------------------------------------------------------- helpers

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# Seconds since $1 (an $EPOCHREALTIME value), one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# cd / first: the postgres user usually cannot read the caller's working directory.
as_postgres() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@"); else (cd / && sudo -u postgres "$@"); fi
}

APT_UPDATED=0
apt_install() {
  log "installing with apt-get: $*"
  if [[ $APT_UPDATED -eq 0 ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  # 9>&-: the postgresql package starts a cluster from its postinst.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 9>&-
}

# One `up`/`down`/`reset` at a time: several engineers' test runs call `up` concurrently.
# Every daemon this script starts must be started with `9>&-`: a server that inherits the
# descriptor holds the lock for as long as it runs.
take_lock() {
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/stack.lock"
  flock -w 900 9 || die "another scripts/stack.sh holds $CACHE_DIR/stack.lock for 15 min"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL

# Splits DATABASE_URL into PG_USER PG_PASS PG_HOST PG_PORT PG_DB and a libpq URL.
# The Python form postgresql+asyncpg:// is accepted like the service accepts it.
parse_database_url() {
  local re='^postgres(ql)?(\+[a-z0-9]+)?://([^:@/]+)(:([^@/]*))?@([^:/?]+)(:([0-9]+))?/([^?]+)(\?.*)?$'
  [[ $DATABASE_URL =~ $re ]] || die "cannot parse DATABASE_URL (want postgres://user:pass@host:port/db)"
  PG_USER=${BASH_REMATCH[3]}
  PG_PASS=${BASH_REMATCH[5]}
  PG_HOST=${BASH_REMATCH[6]}
  PG_PORT=${BASH_REMATCH[8]:-5432}
  PG_DB=${BASH_REMATCH[9]}
  PG_LIBPQ_URL="postgresql://${DATABASE_URL#*://}"
}

pg_answers() {
  have psql || return 1
  PGCONNECT_TIMEOUT=3 psql "$PG_LIBPQ_URL" -XAtqc 'select 1' >/dev/null 2>&1
}

# The tests create a throw-away database per test, so the role needs CREATEDB.
pg_check_createdb() {
  local ok
  ok=$(psql "$PG_LIBPQ_URL" -XAtqc 'select rolcreatedb from pg_roles where rolname = current_user' 2>/dev/null) || ok=
  [[ $ok == t ]] || log "WARNING: role $PG_USER lacks CREATEDB; tests that create a database per test will fail"
}

pg_ensure_installed() {
  if have pg_lsclusters && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    return
  fi
  apt_install postgresql
}

# Newest installed server major version (a fresh Debian 12 gets 15).
pg_version() { find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1; }

# Prints "<version> <cluster> <status>" of the cluster on $PG_PORT, creating one if none.
pg_cluster() {
  local line ver
  line=$(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }')
  if [[ -z $line ]]; then
    ver=$(pg_version)
    local name=main
    [[ -d /etc/postgresql/$ver/main ]] && name=auth-manager
    log "creating PostgreSQL $ver cluster '$name' on port $PG_PORT"
    as_root pg_createcluster "$ver" "$name" --port "$PG_PORT" >/dev/null 9>&-
    line="$ver $name down"
  fi
  echo "$line"
}

# Role with CREATEDB (tests create a database per test) and the database it owns.
pg_provision() {
  local port=$1
  as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
    -v user="$PG_USER" -v pass="$PG_PASS" -v db="$PG_DB" <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'user', :'pass') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
}

# The test suite starts many service instances at once (replicas, per-test databases),
# each with its own pool: Debian's max_connections=100 runs out when two suites run
# side by side. Raised once, on a cluster this script manages; restarts it to apply.
readonly PG_MAX_CONNECTIONS=400
pg_tune() {
  local ver=$1 name=$2 port=$3 now
  now=$(as_postgres psql -XAtq -p "$port" -d postgres -c 'SHOW max_connections')
  ((now >= PG_MAX_CONNECTIONS)) && return
  log "PostgreSQL: max_connections $now -> $PG_MAX_CONNECTIONS (restart)"
  as_postgres psql -XAtq -p "$port" -d postgres -c "ALTER SYSTEM SET max_connections = $PG_MAX_CONNECTIONS" >/dev/null
  as_root pg_ctlcluster "$ver" "$name" restart 9>&-
  pg_isready -q -t 30 -h 127.0.0.1 -p "$port" || die "PostgreSQL $ver/$name did not come back after the restart"
}

# pg_tune on the local Debian cluster listening on $PG_PORT, if there is one (a server
# somebody else runs elsewhere is left as it is).
pg_tune_local() {
  case $PG_HOST in 127.0.0.1 | localhost | ::1) ;; *) return ;; esac
  have pg_lsclusters || return 0
  local ver name
  read -r ver name < <(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p && $4 == "online" { print $1, $2; exit }') || return 0
  [[ -n ${ver:-} ]] && pg_tune "$ver" "$name" "$PG_PORT"
}

pg_up() {
  parse_database_url
  if pg_answers; then
    log "PostgreSQL: $PG_HOST:$PG_PORT/$PG_DB answers, using it"
    pg_check_createdb
    pg_tune_local
    return
  fi
  case $PG_HOST in
    127.0.0.1 | localhost | ::1) ;;
    *) die "PostgreSQL at $PG_HOST:$PG_PORT does not answer, and this script only provisions a local one" ;;
  esac

  pg_ensure_installed
  local ver name status
  read -r ver name status < <(pg_cluster)
  if [[ $status != online ]]; then
    log "PostgreSQL: starting cluster $ver/$name"
    as_root pg_ctlcluster "$ver" "$name" start 9>&-
    echo "$ver $name" >"$PG_STARTED_FILE"
  fi
  local i
  for ((i = 0; i < 30; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 1
  done
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" ||
    die "PostgreSQL $ver/$name does not accept connections on 127.0.0.1:$PG_PORT (listen_addresses? see /var/log/postgresql/)"

  pg_provision "$PG_PORT"
  pg_tune "$ver" "$name" "$PG_PORT"
  pg_answers || die "PostgreSQL runs but $PG_USER cannot log in to $PG_DB over 127.0.0.1:$PG_PORT (check pg_hba.conf)"
  log "PostgreSQL: $ver/$name ready, role $PG_USER and database $PG_DB exist"
}

pg_down() {
  if [[ ! -f $PG_STARTED_FILE ]]; then
    log "PostgreSQL: not started by this script, leaving it alone"
    return
  fi
  local ver name
  read -r ver name <"$PG_STARTED_FILE"
  log "PostgreSQL: stopping cluster $ver/$name"
  as_root pg_ctlcluster "$ver" "$name" stop || true
  rm -f "$PG_STARTED_FILE"
}

pg_status() {
  parse_database_url
  local started=no
  [[ -f $PG_STARTED_FILE ]] && started="yes ($(cat "$PG_STARTED_FILE"))"
  if have pg_lsclusters; then
    pg_lsclusters -h | awk '{ printf "[stack] PostgreSQL cluster %s/%s port %s: %s\n", $1, $2, $3, $4 }' >&2
  fi
  if pg_answers; then
    log "PostgreSQL: $PG_USER@$PG_HOST:$PG_PORT/$PG_DB answers (started by stack.sh: $started)"
  else
    log "PostgreSQL: $PG_USER@$PG_HOST:$PG_PORT/$PG_DB does NOT answer"
    return 1
  fi
}

# ---------------------------------------------------------------- PgBouncer

# PgBouncer in transaction mode on 127.0.0.1:$PGB_PORT, with every database of the
# stack's PostgreSQL behind it (the tests of DATABASE_POOL_MODE=transaction reach their
# own databases through it). It runs as the postgres user (it refuses root), from a
# directory of that user's, so that it can read its files.
readonly PGB_PORT=${PGBOUNCER_PORT:-6432}

pgb_paths() {
  local home
  home=$(getent passwd postgres | cut -d: -f6) || die "no postgres user: bring PostgreSQL up first"
  PGB_DIR=$home/auth-manager-pgbouncer
  PGB_INI=$PGB_DIR/pgbouncer.ini
  PGB_PID_FILE=$PGB_DIR/pgbouncer.pid
  PGB_LOG=$PGB_DIR/pgbouncer.log
}

# The stack's database URL at PgBouncer's address.
pgb_url() { echo "postgresql://$PG_USER:$PG_PASS@127.0.0.1:$PGB_PORT/$PG_DB"; }

pgb_answers() {
  have psql || return 1
  PGCONNECT_TIMEOUT=3 psql "$(pgb_url)" -XAtqc 'select 1' >/dev/null 2>&1
}

# Pid of the PgBouncer this script started, if it still runs (the cmdline check guards
# against a recycled pid).
pgb_pid() {
  local pid
  pid=$(as_postgres cat "$PGB_PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$PGB_INI" || return 1
  echo "$pid"
}

pgb_ensure_installed() {
  have pgbouncer && return
  apt_install pgbouncer
  # On a host with systemd the package starts its own service on port 6432, with an
  # empty default configuration: this script runs an instance of its own instead.
  if have systemctl && systemctl is-active --quiet pgbouncer 2>/dev/null; then
    log "PgBouncer: stopping the service the package started (this script runs its own)"
    as_root systemctl disable --now pgbouncer >/dev/null 2>&1 || true
  fi
}

# Writes the configuration and the user list; prints "changed" when they differ from
# what was there.
pgb_configure() {
  local ini users
  ini=";; Written by scripts/stack.sh: PgBouncer for auth-manager's tests (dev values).
[databases]
* = host=$PG_HOST port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 10
server_idle_timeout = 30
logfile = $PGB_LOG
pidfile = $PGB_PID_FILE"
  users="\"$PG_USER\" \"$PG_PASS\""
  as_postgres mkdir -p "$PGB_DIR"
  if [[ $(as_postgres cat "$PGB_INI" 2>/dev/null) == "$ini" && $(as_postgres cat "$PGB_DIR/userlist.txt" 2>/dev/null) == "$users" ]]; then
    return
  fi
  printf '%s\n' "$ini" | as_postgres tee "$PGB_INI" >/dev/null
  printf '%s\n' "$users" | as_postgres tee "$PGB_DIR/userlist.txt" >/dev/null
  as_postgres chmod 600 "$PGB_DIR/userlist.txt"
  echo changed
}

pgb_stop() {
  local pid i
  pid=$(pgb_pid) || return 0
  log "PgBouncer: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

pgb_up() {
  parse_database_url
  pg_answers || die "PgBouncer needs the stack's PostgreSQL: scripts/stack.sh up postgres"
  pgb_ensure_installed
  pgb_paths
  local changed
  changed=$(pgb_configure)
  if pgb_pid >/dev/null; then
    if [[ -z $changed ]] && pgb_answers; then
      log "PgBouncer: already running on 127.0.0.1:$PGB_PORT (transaction mode)"
      return
    fi
    pgb_stop
  elif port_busy "$PGB_PORT"; then
    die "port $PGB_PORT on 127.0.0.1 is taken by something else; free it or set PGBOUNCER_PORT"
  fi
  log "PgBouncer: starting on 127.0.0.1:$PGB_PORT (transaction mode), log $PGB_LOG"
  as_postgres pgbouncer -d -q "$PGB_INI" 9>&- || die "PgBouncer did not start; see $PGB_LOG"
  local i
  for ((i = 0; i < 50; i++)); do
    pgb_answers && break
    sleep 0.1
  done
  pgb_answers || die "PgBouncer runs but $PG_USER cannot reach $PG_DB through it; see $PGB_LOG"
  log "PgBouncer: ready on 127.0.0.1:$PGB_PORT in front of $PG_HOST:$PG_PORT"
}

pgb_down() {
  pgb_paths
  if ! pgb_pid >/dev/null; then
    log "PgBouncer: not started by this script, leaving it alone"
    return
  fi
  pgb_stop
  log "PgBouncer: stopped"
}

pgb_status() {
  parse_database_url
  pgb_paths
  local pid
  if pid=$(pgb_pid) && pgb_answers; then
    log "PgBouncer: 127.0.0.1:$PGB_PORT answers (transaction mode, pid $pid, log $PGB_LOG)"
  elif pgb_answers; then
    log "PgBouncer: 127.0.0.1:$PGB_PORT answers but was not started by this script"
  else
    log "PgBouncer: 127.0.0.1:$PGB_PORT does NOT answer"
    return 1
  fi
}

# ---------------------------------------------------------------- Keycloak

kc_ensure_tools() {
  local pkgs=() major=0
  if have java; then
    major=$(java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == 1 ? v[2] : v[1]); exit }')
  fi
  ((major >= 17)) || pkgs+=(openjdk-17-jre-headless)
  have mvn || pkgs+=(maven)
  have curl || pkgs+=(curl)
  ((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
}

kc_tarball_ok() {
  [[ -s $KC_TARBALL ]] || return 1
  if [[ -s $KC_TARBALL.sha1 ]]; then
    [[ $(sha1sum "$KC_TARBALL" | cut -d' ' -f1) == "$(cut -c1-40 "$KC_TARBALL.sha1")" ]]
  else
    gzip -t "$KC_TARBALL" 2>/dev/null
  fi
}

kc_download() {
  # Someone (another engineer, a provisioning step) may be downloading it right now:
  # wait for that mvn instead of racing it for the same file.
  local waited=0
  while pgrep -f "dependency:get.*keycloak-quarkus-dist:$KC_VERSION" >/dev/null && ((waited < 900)); do
    ((waited % 30 == 0)) && log "Keycloak: waiting for a running mvn download of $KC_VERSION"
    sleep 5
    waited=$((waited + 5))
  done
  kc_tarball_ok && return
  log "Keycloak: downloading keycloak-quarkus-dist $KC_VERSION from Maven Central"
  rm -f "$KC_TARBALL" "$KC_TARBALL.sha1"
  # Output to a file: maven prints errors on stdout, and colour resets even with -q.
  if ! mvn -q -B dependency:get -Dmaven.repo.local="$M2_REPO" \
    -Dartifact="org.keycloak:keycloak-quarkus-dist:$KC_VERSION:tar.gz" -Dtransitive=false \
    >"$CACHE_DIR/mvn.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/mvn.log" >&2
    die "mvn dependency:get of keycloak-quarkus-dist $KC_VERSION failed (log: $CACHE_DIR/mvn.log)"
  fi
  kc_tarball_ok || die "downloaded $KC_TARBALL is damaged (checksum); delete it and retry"
}

kc_unpack() {
  [[ -x $KC_HOME/bin/kc.sh ]] && return
  log "Keycloak: unpacking into $KC_HOME"
  local tmp
  tmp=$(mktemp -d "$CACHE_DIR/unpack.XXXXXX")
  tar -xzf "$KC_TARBALL" -C "$tmp"
  # Rename into place only when complete, so an interrupted unpack is never used.
  mv "$tmp/keycloak-$KC_VERSION" "$KC_HOME"
  rm -rf "$tmp"
}

# Hash over the names and contents of the realm files.
kc_realm_hash() {
  compgen -G "$REALM_DIR/*.json" >/dev/null || die "no realm files in $REALM_DIR"
  (cd "$REALM_DIR" && sha256sum -- *.json) | sha256sum | cut -d' ' -f1
}

# True when the H2 database was imported from other realm files than the current ones
# (--import-realm skips realms that already exist, so changes would be silently ignored).
kc_realm_stale() {
  [[ -d $KC_HOME/data/h2 ]] || return 1
  [[ $(cat "$KC_REALM_HASH_FILE" 2>/dev/null) != "$(kc_realm_hash)" ]]
}

kc_wipe_data() {
  log "Keycloak: wiping its dev database ($KC_HOME/data/h2)"
  rm -rf "$KC_HOME/data/h2" "$KC_REALM_HASH_FILE"
}

# Pid (= process group, = session) of the Keycloak this script started, if it still runs.
# The cmdline check guards against a recycled pid after a reboot. It matches "$KC_HOME/bin/"
# because that pid is first bin/kc.sh and, after the first start's re-augmentation,
# kc.sh exec's java (with -Dkc.home.dir=$KC_HOME/bin/..).
kc_pid() {
  local pid
  pid=$(cat "$KC_PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "$KC_HOME/bin/" || return 1
  echo "$pid"
}

kc_ready() { curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$KC_MGMT_PORT/health/ready" 2>/dev/null; }

# Ready and every realm we ship is served (realm files are named <realm>.json).
kc_serving() {
  kc_ready || return 1
  local f realm
  for f in "$REALM_DIR"/*.json; do
    realm=$(basename "$f" .json)
    curl -fsS -m 3 -o /dev/null "$KC_URL/realms/$realm/.well-known/openid-configuration" 2>/dev/null || return 1
  done
}

kc_rss_mib() {
  local pid=$1
  ps -o rss= -s "$pid" 2>/dev/null | awk '{ s += $1 } END { printf "%d", s / 1024 }'
}

kc_start() {
  mkdir -p "$KC_HOME/data/import"
  rm -f "$KC_HOME"/data/import/*.json
  cp "$REALM_DIR"/*.json "$KC_HOME/data/import/"
  [[ -d $KC_HOME/data/h2 ]] || kc_realm_hash >"$KC_REALM_HASH_FILE"
  [[ -f $KC_LOG ]] && mv -f "$KC_LOG" "$KC_LOG.1"

  log "Keycloak: starting $KC_VERSION on $KC_URL (management :$KC_MGMT_PORT), log $KC_LOG"
  # setsid: own session and process group, so `down` can signal kc.sh and its java child
  # together, and the server survives the shell (and CI step) that started it.
  (
    exec 9>&- # see take_lock
    cd "$KC_HOME"
    export KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin
    export JAVA_OPTS_KC_HEAP='-Xms256m -Xmx768m'
    # shellcheck disable=SC2016 # $$ and $0 are for the inner shell: it records its own pid
    exec setsid bash -c 'echo $$ >"$0"; exec nohup "$@"' "$KC_PID_FILE" \
      "$KC_HOME/bin/kc.sh" start-dev \
      --http-host=127.0.0.1 --http-port="$KC_PORT" --http-management-port="$KC_MGMT_PORT" \
      --health-enabled=true --import-realm --hostname="$KC_URL" \
      >"$KC_LOG" 2>&1 </dev/null
  ) &
  local i
  for ((i = 0; i < 50; i++)); do
    kc_pid >/dev/null && return
    sleep 0.1
  done
  die "Keycloak did not start; see $KC_LOG"
}

kc_wait_ready() {
  local deadline=$((SECONDS + KC_START_TIMEOUT)) pid
  log "Keycloak: waiting for http://127.0.0.1:$KC_MGMT_PORT/health/ready (up to ${KC_START_TIMEOUT}s)"
  while ((SECONDS < deadline)); do
    if ! pid=$(kc_pid); then
      log "Keycloak exited while starting. Last lines of $KC_LOG:"
      tail -n 40 "$KC_LOG" >&2 || true
      die "Keycloak failed to start (port in use? broken realm file? try: scripts/stack.sh reset)"
    fi
    kc_serving && return
    sleep 2
  done
  log "Last lines of $KC_LOG:"
  tail -n 40 "$KC_LOG" >&2 || true
  die "Keycloak not ready after ${KC_START_TIMEOUT}s (still running as pid $pid; scripts/stack.sh down stops it)"
}

kc_stop() {
  local pid i
  if ! pid=$(kc_pid); then
    rm -f "$KC_PID_FILE"
    return
  fi
  log "Keycloak: stopping (process group $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for ((i = 0; i < KC_STOP_TIMEOUT * 2; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    log "Keycloak: still alive after ${KC_STOP_TIMEOUT}s, sending KILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$KC_PID_FILE"
}

# Download (once) and unpack (once per cache dir); sets KC_COLD and the timings.
kc_install() {
  [[ -x $KC_HOME/bin/kc.sh ]] && return # the tarball is only needed to unpack
  local t=$EPOCHREALTIME
  KC_COLD=1
  kc_download
  T_DOWNLOAD=$(since "$t")
  t=$EPOCHREALTIME
  kc_unpack
  T_UNPACK=$(since "$t")
}

# Sets KC_STARTED=1 when it had to start Keycloak; fills the timing variables.
kc_up() {
  local pid t=$EPOCHREALTIME
  if pid=$(kc_pid); then
    if kc_realm_stale; then
      log "Keycloak: realm files changed since its database was created; re-importing"
      kc_stop
      kc_wipe_data
    elif kc_serving; then
      log "Keycloak: already running and ready (pid $pid, RSS $(kc_rss_mib "$pid") MiB)"
      return
    else
      log "Keycloak: running (pid $pid) but not ready yet"
      kc_wait_ready
      T_KC_START=$(since "$t")
      return
    fi
  elif kc_serving; then
    log "Keycloak: a server not started by this script answers on $KC_URL; using it as is"
    log "          (realm file changes are NOT re-imported into it)"
    return
  elif port_busy "$KC_PORT" || port_busy "$KC_MGMT_PORT"; then
    die "port $KC_PORT or $KC_MGMT_PORT on 127.0.0.1 is taken by something else; free it or set KEYCLOAK_PORT / KEYCLOAK_MGMT_PORT"
  fi

  kc_ensure_tools
  kc_install
  if kc_realm_stale; then
    log "Keycloak: realm files changed since its database was created; re-importing"
    kc_wipe_data
  fi
  t=$EPOCHREALTIME
  kc_start
  kc_wait_ready
  KC_STARTED=1
  T_KC_START=$(since "$t")
  log "Keycloak: ready on $KC_URL (admin console $KC_URL/admin, admin/admin)"
}

kc_status() {
  local pid
  if pid=$(kc_pid); then
    if kc_serving; then
      log "Keycloak $KC_VERSION: ready on $KC_URL, pid $pid, RSS $(kc_rss_mib "$pid") MiB, log $KC_LOG"
    else
      log "Keycloak $KC_VERSION: running (pid $pid) but NOT ready; log $KC_LOG"
      return 1
    fi
    if kc_realm_stale; then log "Keycloak: realm files changed since import; 'up' will re-import them"; fi
  elif kc_serving; then
    log "Keycloak: ready on $KC_URL but not started by this script"
  else
    log "Keycloak: not running"
    return 1
  fi
}

# ---------------------------------------------------------------- commands

# deploy/dev.env, adjusted to DATABASE_URL / KEYCLOAK_PORT overrides so that it always
# describes the stack `up` brings up with the same environment.
cmd_env() {
  local export=0 line key value
  [[ ${1:-} == --export ]] && export=1
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]]; then
      key=${BASH_REMATCH[1]}
      value=${BASH_REMATCH[2]}
      case $key in
        DATABASE_URL) value=$DATABASE_URL ;;
        KEYCLOAK_ISSUER) value=$KC_URL ;;
      esac
      if ((export)); then
        printf "export %s='%s'\n" "$key" "${value//\'/\'\\\'\'}"
      else
        printf '%s=%s\n' "$key" "$value"
      fi
    elif ((!export)); then
      printf '%s\n' "$line"
    fi
  done <"$DEV_ENV_FILE"
}

cmd_up() {
  local what=${1:-all} t0=$EPOCHREALTIME t
  KC_STARTED=0 KC_COLD=0 T_PG=0 T_DOWNLOAD=0 T_UNPACK=0 T_KC_START=0
  take_lock
  if [[ $what == all || $what == postgres ]]; then
    t=$EPOCHREALTIME
    pg_up
    T_PG=$(since "$t")
  fi
  if [[ $what == all || $what == pgbouncer ]]; then pgb_up; fi
  [[ $what == all || $what == keycloak ]] && kc_up
  local kind=warm
  ((KC_STARTED)) && kind=started
  ((KC_COLD)) && kind=cold
  log "up ($kind) took $(since "$t0")s: postgres ${T_PG}s, keycloak download ${T_DOWNLOAD}s, unpack ${T_UNPACK}s, start ${T_KC_START}s"
  log "environment: scripts/stack.sh env  (or cp deploy/dev.env .env)"
}

cmd_down() {
  local what=${1:-all}
  take_lock
  [[ $what == all || $what == keycloak ]] && kc_stop && log "Keycloak: stopped"
  if [[ $what == all || $what == pgbouncer ]]; then pgb_down; fi
  if [[ $what == all || $what == postgres ]]; then pg_down; fi
}

cmd_status() {
  local what=${1:-all} rc=0
  if [[ $what == all || $what == postgres ]]; then pg_status || rc=1; fi
  if [[ $what == all || $what == pgbouncer ]]; then pgb_status || rc=1; fi
  if [[ $what == all || $what == keycloak ]]; then kc_status || rc=1; fi
  return $rc
}

cmd_reset() {
  take_lock
  kc_stop
  [[ -d $KC_HOME ]] && kc_wipe_data
  exec 9>&- # cmd_up takes the lock again
  cmd_up all
}

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

main() {
  local cmd=${1:-}
  shift || true
  case ${1:-all} in
    all | postgres | pgbouncer | keycloak | --export) ;;
    *) usage >&2; exit 2 ;;
  esac
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" 2>&1 ;; # a report: stdout, unlike up/down's progress lines
    env) cmd_env "$@" ;;
    reset) cmd_reset ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

# `exit` on the same line: bash reads a script as it runs, so a running `up` must not go on
# reading this file after someone edited it.
main "$@"; exit
