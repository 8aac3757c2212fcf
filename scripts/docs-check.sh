#!/usr/bin/env bash
# The docs pages in a real browser: starts the service on a free port against
# the local stack (scripts/docs-check-service.sh), then headless Chromium checks that
# /docs lists every operation of the spec, that "Try it out" -> Execute on GET /health
# shows 200, that /redoc renders every operation, and that neither page loads anything
# from another origin or logs a console error. Screenshots (docs.png, redoc.png) are
# kept in DOCS_CHECK_SCREENSHOTS (default: a new temp dir, printed at the end).
#
#   scripts/docs-check.sh            install Chromium if missing, then check
#   scripts/docs-check.sh install    only install Debian's chromium and chromium-driver
#
# The check itself is internal/httpapi/docs_browser_test.go (build tag `browser`).
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

log() { printf '[docs-check] %s\n' "$*" >&2; }
die() { printf '[docs-check] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_chromium() {
  if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    return
  fi
  command -v apt-get >/dev/null || die "install Chromium and its chromedriver (Debian: chromium chromium-driver)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  log "installing Debian's chromium and chromium-driver"
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >/dev/null
}

if [[ ${1:-} == install ]]; then
  ensure_chromium
  exit 0
fi

start=$SECONDS
ensure_chromium
# shellcheck source=scripts/docs-check-service.sh
. "$REPO_ROOT/scripts/docs-check-service.sh"
service_start docs-check

shots=${DOCS_CHECK_SCREENSHOTS:-$(mktemp -d "${TMPDIR:-/tmp}/auth-manager-docs-shots.XXXXXX")}
mkdir -p "$shots"
log "headless Chromium against $SERVICE_URL"
if ! (cd "$REPO_ROOT" && DOCS_CHECK_URL=$SERVICE_URL DOCS_CHECK_SCREENSHOTS=$shots \
  go test -tags browser -count=1 -run '^TestDocsInBrowser$' -v ./internal/httpapi/); then
  tail -n 20 "$SERVICE_LOG" >&2 || true
  die "the docs pages failed in the browser; screenshots in $shots"
fi
log "ok in $((SECONDS - start)) s; screenshots in $shots"
