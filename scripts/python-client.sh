#!/usr/bin/env bash
# A Python client generated from the committed OpenAPI document, as a Python service
# calling auth-manager would make one: openapi-python-client, pinned, from PyPI.
#
#   scripts/python-client.sh venv          install the generator (once) into the cached
#                                          venv and print the venv's python
#   scripts/python-client.sh generate DIR  generate the client from api/openapi.json as
#                                          the package DIR/auth_manager_client (DIR goes on
#                                          PYTHONPATH); fails on any generator warning
#
# The venv lives outside the repository, at $AUTH_MANAGER_CACHE/python-client-venv
# (default ~/.cache/auth-manager/python-client-venv); it is made and filled only when
# it lacks the pinned version, so a second run costs nothing. The generated client
# needs httpx, attrs and python-dateutil, which the generator brings into the same venv.
# internal/clienttest's TestGeneratedPythonClient runs this, then the client against
# the service.
set -euo pipefail
export LC_ALL=C

readonly GENERATOR_VERSION=0.29.1

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly VENV=${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}/python-client-venv
readonly GEN=$VENV/bin/openapi-python-client

log() { printf '[python-client] %s\n' "$*" >&2; }
die() { printf '[python-client] ERROR: %s\n' "$*" >&2; exit 1; }

installed_version() { "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-python-client"))' 2>/dev/null; }

ensure_generator() {
  [[ -x $GEN && $(installed_version) == "$GENERATOR_VERSION" ]] && return
  command -v python3 >/dev/null || die "python3 is needed (Debian: apt-get install python3 python3-venv)"
  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock -w 600 9 || die "another run holds $VENV.lock"
  [[ -x $GEN && $(installed_version) == "$GENERATOR_VERSION" ]] && return
  log "installing openapi-python-client $GENERATOR_VERSION into $VENV"
  [[ -x $VENV/bin/pip ]] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==$GENERATOR_VERSION" ||
    die "pip install openapi-python-client==$GENERATOR_VERSION failed"
  [[ $(installed_version) == "$GENERATOR_VERSION" ]] || die "the venv holds openapi-python-client $(installed_version), not $GENERATOR_VERSION"
}

generate() {
  local out=$1
  mkdir -p "$out"
  printf 'package_name_override: auth_manager_client\n' >"$out/config.yaml"
  rm -rf "$out/auth_manager_client"
  # PATH: the generator formats its output with the ruff it brought into the venv.
  (cd "$out" && PATH=$VENV/bin:$PATH "$GEN" generate --path "$REPO_ROOT/api/openapi.json" --config "$out/config.yaml" \
    --meta none --output-path "$out/auth_manager_client" >"$out/generate.log" 2>&1) ||
    { cat "$out/generate.log" >&2; die "openapi-python-client could not generate a client from api/openapi.json"; }
  # A warning means a part of the document the generator skipped: a gap in the client.
  if grep -qi 'warning' "$out/generate.log"; then
    cat "$out/generate.log" >&2
    die "openapi-python-client warned about api/openapi.json"
  fi
  echo "$out"
}

case ${1:-} in
  venv) ensure_generator && echo "$VENV/bin/python" ;;
  generate) [[ -n ${2:-} ]] || die "usage: scripts/python-client.sh generate DIR"
    ensure_generator && generate "$(realpath -m "$2")" ;;
  *) die "usage: scripts/python-client.sh venv | generate DIR" ;;
esac
