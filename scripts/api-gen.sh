#!/usr/bin/env bash
# The OpenAPI documents and the docs pages' vendored assets (issues 7 and 14).
#
#   scripts/api-gen.sh spec [DIR]  generate the spec from the swag annotations in
#                                  internal/httpapi into DIR (default api/): swagger.json and
#                                  swagger.yaml (swag's Swagger 2.0 output, the intermediate),
#                                  then openapi.json and openapi.yaml (OpenAPI 3.0.3, the
#                                  published contract: cmd/apigen, internal/apispec)
#   scripts/api-gen.sh ui          refresh api/ui/ from the pinned npm packages
#                                  (swagger-ui-dist, redoc) and rewrite api/ui/SOURCES
#   scripts/api-gen.sh all         spec, then ui (what `make api` runs)
#   scripts/api-gen.sh check       generate the spec into a temp dir and fail when it
#                                  differs from the committed api/; validate the committed
#                                  api/openapi.json with kin-openapi (what `make api-check`
#                                  and so `make lint` run)
#
# swag is pinned as a `tool` directive in go.mod (`go tool swag`), so its version is the
# module's and needs no install. The ui step needs npm and the npm registry.
set -euo pipefail
export LC_ALL=C

readonly SWAGGER_UI_VERSION=5.35.0
# redoc 3 sends OpenTelemetry traces to Redocly's cloud and loads its logo from their
# CDN, which an offline docs page must not do; 2.5 does neither.
readonly REDOC_VERSION=2.5.4

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

log() { printf '[api] %s\n' "$*" >&2; }
die() { printf '[api] ERROR: %s\n' "$*" >&2; exit 1; }

# --requiredByDefault: encoding/json always writes a field without omitempty, so the
# spec says so and the contract fuzzer holds the service to it.
gen_spec() {
  local out=$1
  mkdir -p "$out"
  (cd "$REPO_ROOT" && go tool swag init --quiet \
    --generalInfo openapi.go --dir internal/httpapi \
    --output "$out" --outputTypes json,yaml \
    --requiredByDefault)
  (cd "$REPO_ROOT" && go run ./cmd/apigen convert "$out/swagger.json" "$out")
}

# vendor PKG VERSION DEST FILE...: copies FILEs (paths inside the npm package) into
# api/ui/DEST and appends their lines to SOURCES.
vendor() {
  local pkg=$1 version=$2 dest=$3 tmp=$4 sources=$5
  shift 5
  log "npm pack $pkg@$version"
  local tgz
  tgz=$(cd "$tmp" && npm pack --silent "$pkg@$version" | tail -n 1)
  mkdir -p "$tmp/$pkg" "$tmp/ui/$dest"
  tar -xzf "$tmp/$tgz" -C "$tmp/$pkg"
  local f
  for f in "$@"; do
    [[ -f $tmp/$pkg/package/$f ]] || die "$pkg@$version has no $f"
    cp "$tmp/$pkg/package/$f" "$tmp/ui/$dest/$(basename "$f")"
    printf '%s@%s %s/%s %s\n' "$pkg" "$version" "$dest" "$(basename "$f")" \
      "$(sha256sum "$tmp/ui/$dest/$(basename "$f")" | cut -d' ' -f1)" >>"$sources"
  done
}

gen_ui() {
  command -v npm >/dev/null || die "npm is needed to refresh api/ui (apt-get install npm)"
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # expand tmp now
  trap "rm -rf '$tmp'" RETURN
  local sources=$tmp/ui/SOURCES
  mkdir -p "$tmp/ui"
  {
    echo "# Vendored by \`make api\` (scripts/api-gen.sh ui) from the npm registry; do not edit."
    echo "# api/ui_test.go checks every file against its SHA-256 here."
    echo "# package@version file sha256"
  } >"$sources"
  vendor swagger-ui-dist "$SWAGGER_UI_VERSION" swagger-ui "$tmp" "$sources" \
    swagger-ui-bundle.js swagger-ui.css favicon-32x32.png favicon-16x16.png \
    LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
  vendor redoc "$REDOC_VERSION" redoc "$tmp" "$sources" \
    bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt LICENSE
  rm -rf "$REPO_ROOT/api/ui"
  cp -r "$tmp/ui" "$REPO_ROOT/api/ui"
  log "api/ui: swagger-ui-dist@$SWAGGER_UI_VERSION, redoc@$REDOC_VERSION"
}

check() {
  local tmp f
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  gen_spec "$tmp"
  for f in swagger.json swagger.yaml openapi.json openapi.yaml; do
    if ! diff -u "$REPO_ROOT/api/$f" "$tmp/$f" >"$tmp/$f.diff" 2>&1; then
      head -n 60 "$tmp/$f.diff" >&2
      die "api/$f is stale: the swag annotations in internal/httpapi generate something else. Run \`make api\` and commit api/."
    fi
  done
  (cd "$REPO_ROOT" && go run ./cmd/apigen validate api/openapi.json) ||
    die "api/openapi.json is not a valid OpenAPI 3 document"
  for f in "swagger-ui-dist@$SWAGGER_UI_VERSION" "redoc@$REDOC_VERSION"; do
    grep -q "^$f " "$REPO_ROOT/api/ui/SOURCES" ||
      die "api/ui does not hold $f as scripts/api-gen.sh pins it. Run \`make api\` and commit api/."
  done
  log "api/ is up to date"
}

case ${1:-all} in
  spec) gen_spec "$(realpath -m "${2:-$REPO_ROOT/api}")" ;;
  ui) gen_ui ;;
  all) gen_spec "$REPO_ROOT/api" && gen_ui ;;
  check) check ;;
  *) die "usage: scripts/api-gen.sh spec [DIR] | ui | all | check" ;;
esac
