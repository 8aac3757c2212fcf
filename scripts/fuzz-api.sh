#!/usr/bin/env bash
# Contract fuzzing (issue 7): schemathesis, pinned, against the service running on a
# free port over the local stack (scripts/docs-check-service.sh) and the committed
# spec api/swagger.json, with a real bearer token of the test realm (alice, password
# grant on the service's own client). Fails on any 5xx, any status the spec does not
# document for the operation, and any answer whose body or Content-Type breaks the spec.
#
# The run is bounded: FUZZ_MAX_EXAMPLES cases per operation and phase (default 30) and
# FUZZ_MAX_TIME seconds in all (default 120). schemathesis comes from PyPI into a venv
# at $AUTH_MANAGER_CACHE/venv (default ~/.cache/auth-manager/venv), installed once.
# Reports (JUnit, NDJSON) stay in FUZZ_REPORT_DIR (default: a new temp dir). Output is
# sanitized by schemathesis: the Authorization header never appears in it.
set -euo pipefail
export LC_ALL=C

readonly SCHEMATHESIS_VERSION=4.32.5

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly VENV=${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}/venv
readonly ST=$VENV/bin/schemathesis

log() { printf '[fuzz-api] %s\n' "$*" >&2; }
die() { printf '[fuzz-api] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_schemathesis() {
  if [[ -x $ST ]] && [[ $("$ST" --version 2>/dev/null) == *"version $SCHEMATHESIS_VERSION" ]]; then
    return
  fi
  command -v python3 >/dev/null || die "python3 is needed for schemathesis"
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  [[ -x $VENV/bin/pip ]] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# login USER PASSWORD: a password grant on the service's own client; prints the access
# token and the refresh token, one a line.
login() {
  curl -fsS -m 10 "${KEYCLOAK_ISSUER%/}/realms/$KEYCLOAK_REALM/protocol/openid-connect/token" \
    --data-urlencode grant_type=password --data-urlencode "client_id=$KEYCLOAK_CLIENT_ID" \
    --data-urlencode "client_secret=$KEYCLOAK_CLIENT_SECRET" --data-urlencode "username=$1" \
    --data-urlencode "password=$2" --data-urlencode "scope=openid" |
    python3 -c 'import json, sys; t = json.load(sys.stdin); print(t["access_token"]); print(t["refresh_token"])'
}

# seed stores alice's refresh token through the API, so that the fuzzer meets real data:
# GET /v1/tokens lists a row, POST /v1/refresh-token-id finds it, and POST
# /v1/access-token is given its id. Prints the persistent token id.
seed() {
  printf '{"refresh_token":"%s"}' "$2" |
    curl -fsS -m 20 -X POST "$SERVICE_URL/v1/refresh-token" -H "Content-Type: application/json" \
      -H @<(printf 'Authorization: Bearer %s\n' "$1") --data-binary @- |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["persistent_token_id"])'
}

start=$SECONDS
ensure_schemathesis
# shellcheck source=scripts/docs-check-service.sh
. "$REPO_ROOT/scripts/docs-check-service.sh"
CHECK_LOG_LEVEL=WARNING service_start fuzz-api

reports=${FUZZ_REPORT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/auth-manager-fuzz.XXXXXX")}
mkdir -p "$reports"
tokens=$(login alice alice-password) || die "no token for alice from Keycloak (is the stack up? make stack-up)"
FUZZ_TOKEN=$(sed -n 1p <<<"$tokens")
FUZZ_TOKEN_ID=$(seed "$FUZZ_TOKEN" "$(sed -n 2p <<<"$tokens")") || die "could not store alice's refresh token"
unset tokens
export FUZZ_TOKEN FUZZ_TOKEN_ID
# The token reaches schemathesis through the environment and this config's
# substitution, not the command line. DELETE routes are not given the seeded id: that
# would end alice's session, and with it the fuzzer's bearer token.
cat >"$CHECK_TMP/schemathesis.toml" <<'TOML'
headers = { Authorization = "Bearer ${FUZZ_TOKEN}" }

[[operations]]
include-name = "POST /v1/access-token"
parameters = { "query.id" = "${FUZZ_TOKEN_ID}" }
TOML

log "schemathesis $SCHEMATHESIS_VERSION against $SERVICE_URL with api/swagger.json"
rc=0
(cd "$CHECK_TMP" && "$ST" --config-file "$CHECK_TMP/schemathesis.toml" run "$REPO_ROOT/api/swagger.json" \
  --url "$SERVICE_URL" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${FUZZ_MAX_EXAMPLES:-30}" --max-time "${FUZZ_MAX_TIME:-120}" \
  --workers 2 --request-timeout 20 --seed "${FUZZ_SEED:-7}" \
  --report junit,ndjson --report-dir "$reports" \
  --output-sanitize true) || rc=$?
if ((rc != 0)); then
  grep -E '"level":"(ERROR|WARN)"' "$SERVICE_LOG" | tail -n 20 >&2 || true
  die "schemathesis found problems (exit $rc); reports in $reports"
fi
log "ok in $((SECONDS - start)) s; reports in $reports"
