# shellcheck shell=bash
# Sourced by scripts/docs-check.sh and scripts/fuzz-api.sh: runs one auth-manager
# process for a check, on a free loopback port, against the local stack (deploy/dev.env
# through `scripts/stack.sh env`) but on a throwaway database, so that a check neither
# sees nor leaves rows in the dev database. Everything it started is stopped and
# dropped on exit.
#
#   service_start NAME   builds, creates the database, starts, waits for readiness;
#                        sets SERVICE_URL, SERVICE_LOG and CHECK_TMP
#
# Callers set `set -euo pipefail` and define log/die.

[[ -v REPO_ROOT ]] || REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVICE_PID=
SERVICE_DB=
SERVICE_ADMIN_URL=
CHECK_TMP=

# Exports deploy/dev.env (as the stack describes it) for every variable not already set.
service_load_env() {
  local line key
  while IFS= read -r line; do
    [[ $line =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]}
    [[ -v $key ]] || export "$key=${BASH_REMATCH[2]}"
  done < <("$REPO_ROOT/scripts/stack.sh" env)
}

service_free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

service_stop() {
  if [[ -n $SERVICE_PID ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill -TERM "$SERVICE_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 150; i++)); do
      kill -0 "$SERVICE_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  SERVICE_PID=
  if [[ -n $SERVICE_DB ]]; then
    psql -q -X "$SERVICE_ADMIN_URL" -c "DROP DATABASE IF EXISTS $SERVICE_DB WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $SERVICE_DB"
    SERVICE_DB=
  fi
  if [[ -n $CHECK_TMP && ${KEEP_CHECK_TMP:-} != 1 ]]; then
    rm -rf "$CHECK_TMP"
  fi
}

service_start() {
  local name=$1
  command -v psql >/dev/null || die "psql is needed (the stack installs it: make stack-up)"
  CHECK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/auth-manager-$name.XXXXXX")
  trap service_stop EXIT
  service_load_env

  log "building the service"
  (cd "$REPO_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$CHECK_TMP/auth-manager" ./cmd/auth-manager) ||
    die "go build failed"

  SERVICE_ADMIN_URL=$DATABASE_URL
  SERVICE_DB=am_${name//-/_}_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  psql -q -X "$SERVICE_ADMIN_URL" -c "CREATE DATABASE $SERVICE_DB" >/dev/null ||
    die "cannot create a database on the stack's PostgreSQL (make stack-up)"
  local db_url=${SERVICE_ADMIN_URL/\/auth_manager\?//$SERVICE_DB?}
  [[ $db_url != "$SERVICE_ADMIN_URL" ]] || die "DATABASE_URL does not name the auth_manager database: cannot derive a throwaway one"

  local port
  port=$(service_free_port)
  SERVICE_URL=http://127.0.0.1:$port
  SERVICE_LOG=$CHECK_TMP/service.log
  # The working directory is the temp dir so that no .env of the checkout is read.
  (
    cd "$CHECK_TMP" || exit 1
    export HOST=127.0.0.1 PORT=$port DATABASE_URL=$db_url LOG_LEVEL=${CHECK_LOG_LEVEL:-INFO}
    export KEYCLOAK_CONSENT_REDIRECT_URI=$SERVICE_URL/v1/offline-token/callback
    exec ./auth-manager serve >"$SERVICE_LOG" 2>&1 </dev/null
  ) &
  SERVICE_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if curl -fsS -m 2 -o /dev/null "$SERVICE_URL/health/ready" 2>/dev/null; then
      log "service ready on $SERVICE_URL (pid $SERVICE_PID, database $SERVICE_DB)"
      return
    fi
    kill -0 "$SERVICE_PID" 2>/dev/null || { tail -n 20 "$SERVICE_LOG" >&2; die "the service exited"; }
    sleep 0.2
  done
  tail -n 20 "$SERVICE_LOG" >&2
  die "the service was not ready after 60 s"
}
