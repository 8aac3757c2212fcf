#!/usr/bin/env python3
"""Checks of the Helm chart's rendered manifests, run by scripts/check-deploy.sh.

    check_deploy.py manifests FILE KUBE_VERSION CASE
        Every object of the rendered stream FILE against the Kubernetes JSON schemas of
        KUBE_VERSION (kubernetes-validate, strict: unknown fields fail); the Prometheus
        Operator's objects, which have no schema here, against the fields the chart sets;
        and the chart's own rules for the values file CASE (default, full, self-migrate).
    check_deploy.py rules FILE OUT
        The one PrometheusRule of the rendered stream FILE, as a rules file for promtool.

Problems go to stderr, one a line; the exit status is 1 when there is any.
"""
import json
import sys

import yaml
import kubernetes_validate.utils as kv

errors = []


def bad(obj, msg):
    errors.append("%s/%s: %s" % (obj.get("kind"), obj.get("metadata", {}).get("name"), msg))


SECRET_VARS = {"DATABASE_URL", "AUTH_MANAGER_TOKEN_VAULT_ENCRYPTION_KEY",
               "AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS", "KEYCLOAK_CLIENT_SECRET", "STATE_TOKEN_SECRET"}
REQUIRED_SECRETS = SECRET_VARS - {"AUTH_MANAGER_TOKEN_VAULT_PREVIOUS_KEYS"}

def check_prometheus_rule(o):
    # No CRD schema here either: its shape, and what every alert must carry (promtool
    # checks the expressions).
    if o.get("apiVersion") != "monitoring.coreos.com/v1": bad(o, "apiVersion must be monitoring.coreos.com/v1")
    groups = (o.get("spec") or {}).get("groups") or []
    if not groups: bad(o, "spec.groups missing")
    for g in groups:
        for r in g.get("rules") or []:
            unknown = set(r) - {"alert", "expr", "for", "labels", "annotations"}
            if unknown or not r.get("alert") or not r.get("expr"): bad(o, "rule %s: alert and expr required, got %s" % (r.get("alert"), sorted(r)))
            if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"): bad(o, "%s: severity label missing" % r.get("alert"))
            if not str((r.get("annotations") or {}).get("runbook_url", "")).startswith("https://"): bad(o, "%s: runbook_url missing" % r.get("alert"))

def check_dashboard(o):
    if (o["metadata"].get("labels") or {}).get("grafana_dashboard") != "1": bad(o, "the dashboard ConfigMap lacks the grafana_dashboard label")
    for k, v in (o.get("data") or {}).items():
        try:
            d = json.loads(v)
        except ValueError as e:
            bad(o, "%s is not JSON: %s" % (k, e)); continue
        if not d.get("panels") or not d.get("uid"): bad(o, "%s: no panels or uid" % k)

def check_service_monitor(o):
    # No CRD schema ships in a package reachable here: the fields this chart sets.
    spec = o.get("spec") or {}
    if o.get("apiVersion") != "monitoring.coreos.com/v1": bad(o, "apiVersion must be monitoring.coreos.com/v1")
    if not (spec.get("selector") or {}).get("matchLabels"): bad(o, "spec.selector.matchLabels missing")
    eps = spec.get("endpoints") or []
    if not eps: bad(o, "spec.endpoints missing")
    for e in eps:
        unknown = set(e) - {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings", "metricRelabelings", "honorLabels"}
        if unknown: bad(o, "unknown endpoint fields %s" % sorted(unknown))
        if e.get("path") != "/metrics" or not e.get("port"): bad(o, "endpoint must scrape a named port at /metrics")

def env_map(c):
    return {e["name"]: e for e in c.get("env") or []}

def check_container(o, c, serving):
    sc = c.get("securityContext") or {}
    for k, want in (("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False), ("runAsNonRoot", True)):
        if sc.get(k) is not want: bad(o, "container %s: securityContext.%s must be %s" % (c["name"], k, want))
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []): bad(o, "container %s: capabilities must drop ALL" % c["name"])
    res = c.get("resources") or {}
    if not (res.get("requests") or {}).get("memory") or not (res.get("limits") or {}).get("memory"):
        bad(o, "container %s: memory request and limit required" % c["name"])
    env = env_map(c)
    for name, e in env.items():
        if name in SECRET_VARS and ("value" in e or "secretKeyRef" not in (e.get("valueFrom") or {})):
            bad(o, "container %s: %s must come from a secretKeyRef" % (c["name"], name))
    for name in REQUIRED_SECRETS:
        if name not in env: bad(o, "container %s: %s missing" % (c["name"], name))
    for name in ("KEYCLOAK_ISSUER", "KEYCLOAK_CONSENT_REDIRECT_URI"):
        if not (env.get(name) or {}).get("value"): bad(o, "container %s: %s missing" % (c["name"], name))
    return env


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_manifests(path, version, case):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for o in docs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
        if o["kind"] == "ServiceMonitor":
            check_service_monitor(o)
        elif o["kind"] == "PrometheusRule":
            check_prometheus_rule(o)
        else:
            try:
                kv.validate(o, version, strict=True)
            except kv.ValidationError as e:
                bad(o, "schema (Kubernetes %s): %s: %s" % (version, ".".join(str(p) for p in e.path), e.message))
            except kv.SchemaNotFoundError as e:
                bad(o, e.message)

        if o["kind"] == "Deployment":
            spec, pod = o["spec"], o["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            env = check_container(o, c, True)
            if c.get("args") != ["serve"]: bad(o, "the container must run serve")
            for probe, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health")):
                if ((c.get(probe) or {}).get("httpGet") or {}).get("path") != path: bad(o, "%s must GET %s" % (probe, path))
            drain = int(env["SHUTDOWN_DRAIN_DELAY"]["value"]); timeout = int(env["SHUTDOWN_TIMEOUT"]["value"])
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if grace < drain + timeout: bad(o, "terminationGracePeriodSeconds %d < drain %d + timeout %d" % (grace, drain, timeout))
            if drain < 1 and spec.get("replicas", 2) > 1: bad(o, "several replicas need SHUTDOWN_DRAIN_DELAY > 0")
            psc = pod.get("securityContext") or {}
            if psc.get("runAsNonRoot") is not True: bad(o, "pod securityContext.runAsNonRoot must be true")
            if case != "self-migrate":
                if env.get("AUTH_MANAGER_SKIP_MIGRATIONS", {}).get("value") != "true": bad(o, "pods must skip migrations (the Job runs them)")
                if "replicas" in spec and spec["replicas"] < 3: bad(o, "fewer than 3 replicas")
            if spec.get("strategy", {}).get("rollingUpdate", {}).get("maxUnavailable") not in (0, "0", "0%"):
                bad(o, "rolling updates should keep every replica (maxUnavailable 0)")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
            if set(ports) != {"http", "metrics"} or ports["http"] != 8000 or ports["metrics"] == 8000:
                bad(o, "the container must expose http (8000) and a separate metrics port, got %s" % ports)
            elif (env.get("METRICS_ADDR") or {}).get("value") != ":%d" % ports["metrics"]:
                bad(o, "METRICS_ADDR must be :%d (the metrics port), so the API port serves no /metrics" % ports["metrics"])
        if o["kind"] == "Service":
            ports = {p["name"]: p.get("targetPort") for p in o["spec"]["ports"]}
            if ports != {"http": "http", "metrics": "metrics"}: bad(o, "Service ports must be http and metrics, got %s" % ports)
        if o["kind"] == "ServiceMonitor":
            for e in o["spec"].get("endpoints") or []:
                if e.get("port") != "metrics": bad(o, "must scrape the metrics port, not %s" % e.get("port"))
        if o["kind"] == "Ingress":
            for rule in o["spec"].get("rules") or []:
                for p in rule["http"]["paths"]:
                    path, port = p["path"], p["backend"]["service"]["port"]
                    if path != "/v1" and not path.startswith(("/docs", "/redoc", "/openapi")):
                        bad(o, "the Ingress may route /v1 and the docs only, not %s" % path)
                    if port != {"name": "http"}: bad(o, "the Ingress must route to the http port, not %s" % port)
                paths = [p["path"] for p in rule["http"]["paths"]]
                if "/v1" not in paths: bad(o, "the Ingress does not route /v1")
                if case == "full" and "/docs" not in paths: bad(o, "ingress.docs.enabled: /docs missing")
        if o["kind"] == "NetworkPolicy":
            spec = o["spec"]
            if sorted(spec.get("policyTypes") or []) != ["Egress", "Ingress"]: bad(o, "must restrict ingress and egress")
            by_port = {tuple(p["port"] for p in r["ports"]): r.get("from") or [] for r in spec.get("ingress") or []}
            if set(by_port) != {("http",), ("metrics",)}: bad(o, "ingress rules must be for the http and metrics ports, got %s" % list(by_port))
            elif any(set(f) != {"namespaceSelector"} for f in by_port[("metrics",)]): bad(o, "metrics only from the monitoring namespace")
            elif not by_port[("http",)]: bad(o, "the API port open to everyone")
            eports = sorted(p["port"] for r in spec.get("egress") or [] for p in r["ports"])
            if 53 not in eports or len(spec.get("egress") or []) != 3: bad(o, "egress must be PostgreSQL, Keycloak and DNS only, got ports %s" % eports)
        if o["kind"] == "Pod":
            if o["metadata"].get("annotations", {}).get("helm.sh/hook") != "test": bad(o, "a Pod must be the helm test hook")
            (c,) = o["spec"]["containers"]
            if (c.get("args") or [""])[0] != "healthcheck": bad(o, "the test must run auth-manager healthcheck")
            if not any(a.endswith("/health/ready") for a in c.get("args") or []): bad(o, "the test must ask /health/ready")
        if o["kind"] == "Job":
            pod = o["spec"]["template"]["spec"]
            (c,) = pod["containers"]
            check_container(o, c, False)
            if c.get("args") != ["migrate", "up"]: bad(o, "the Job must run migrate up")
            hooks = set(o["metadata"].get("annotations", {}).get("helm.sh/hook", "").split(","))
            if hooks != {"pre-install", "pre-upgrade"}: bad(o, "the migration Job must be a pre-install,pre-upgrade hook")
        if o["kind"] == "Secret":
            bad(o, "the chart must not create Secrets (it references existing ones)")
        if o["kind"] == "ConfigMap":
            check_dashboard(o)

    # Selectors must pick the serving pods only (never the migration Job's pod).
    pods = {o["kind"]: o["spec"]["template"]["metadata"].get("labels", {}) for o in docs if o["kind"] in ("Deployment", "Job")}
    pods.update({"Pod": o["metadata"].get("labels", {}) for o in docs if o["kind"] == "Pod"})
    for o in docs:
        sel = o["spec"].get("selector") if o["kind"] in ("Service", "PodDisruptionBudget") else None
        if sel is None:
            continue
        sel = sel.get("matchLabels", sel) if o["kind"] == "PodDisruptionBudget" else sel
        if not matches(sel, pods.get("Deployment", {})): bad(o, "selector does not match the Deployment's pods")
        if "Job" in pods and matches(sel, pods["Job"]): bad(o, "selector matches the migration Job's pod")
        if "Pod" in pods and matches(sel, pods["Pod"]): bad(o, "selector matches the helm test pod")

    want = {"Deployment": 1, "Service": 1, "Pod": 1}
    if case != "self-migrate":
        want.update({"Job": 1, "PodDisruptionBudget": 1})
    if case == "full":
        want.update({"Ingress": 1, "ServiceMonitor": 1, "HorizontalPodAutoscaler": 1, "NetworkPolicy": 1,
                     "PrometheusRule": 1, "ConfigMap": 1})
    for k, n in want.items():
        if kinds.get(k, 0) != n: errors.append("expected %d %s, rendered %d" % (n, k, kinds.get(k, 0)))

    for e in errors:
        print("  " + e, file=sys.stderr)
    print("  %-12s k8s %-7s %s" % (case, version, ", ".join("%s=%d" % kv_ for kv_ in sorted(kinds.items()))), file=sys.stderr)
    return 1 if errors else 0


def extract_rules(path, out):
    (rule,) = [d for d in yaml.safe_load_all(open(path)) if d]
    if rule.get("kind") != "PrometheusRule" or not (rule.get("spec") or {}).get("groups"):
        print("  no PrometheusRule with spec.groups in %s" % path, file=sys.stderr)
        return 1
    yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(out, "w"), sort_keys=False)
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "manifests":
        return check_manifests(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "rules":
        return extract_rules(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
