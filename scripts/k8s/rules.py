"""The rules every AgentIdP Kubernetes object follows (issue: deployable), as functions of
the rendered objects, so that `check.py` applies them to each overlay and
`test_rules.py` shows that each rule catches what it is about.

Each check returns a list of problems (strings); empty means the rule holds.
"""

import re

# Flush hooks run after the drain for at most this long (platform::server::run).
FLUSH_BOUND_SECS = 10
# The platform's two listeners (base/<service>/deployment.yaml).
PUBLIC_PORT, INTERNAL_PORT = 8080, 9090
# Kinds without a schema in kubernetes-validate: checked here by structure.
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


def by_kind(objs, kind):
    return [o for o in objs if o.get("kind") == kind]


def name(o):
    return o["metadata"]["name"]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def config_value(objs, var):
    for cm in by_kind(objs, "ConfigMap"):
        if var in cm.get("data", {}):
            return cm["data"][var]
    return None


def check_deployment(d, objs):
    """Probes, resources, security context, spread, grace period, preStop, listeners."""
    p, n = [], name(d)
    pod = d["spec"]["template"]["spec"]
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        p.append(f"{n}: pod securityContext.runAsNonRoot is not true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        p.append(f"{n}: pod seccompProfile is not RuntimeDefault")
    if not pod.get("topologySpreadConstraints"):
        p.append(f"{n}: no topologySpreadConstraints")
    if labels.get("app.kubernetes.io/part-of") != "agentidp":
        p.append(f"{n}: pod template lacks app.kubernetes.io/part-of=agentidp")
    for c in pod.get("containers", []):
        cn = f"{n}/{c['name']}"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe not in c:
                p.append(f"{cn}: no {probe}")
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in res.get(part, {}):
                    p.append(f"{cn}: no resources.{part}.{r}")
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            p.append(f"{cn}: allowPrivilegeEscalation is not false")
        if sc.get("readOnlyRootFilesystem") is not True:
            p.append(f"{cn}: readOnlyRootFilesystem is not true")
        if sc.get("runAsNonRoot") is not True and psc.get("runAsNonRoot") is not True:
            p.append(f"{cn}: runAsNonRoot is not true")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            p.append(f"{cn}: capabilities are not all dropped")
        if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
            p.append(f"{cn}: seccompProfile is not RuntimeDefault")
        pre = c.get("lifecycle", {}).get("preStop")
        if not pre:
            p.append(f"{cn}: no preStop hook")
        env = env_of(c)
        if env.get("INTERNAL_PORT") != str(INTERNAL_PORT):
            p.append(f"{cn}: INTERNAL_PORT is not {INTERNAL_PORT}")
        ports = {pt.get("name"): pt["containerPort"] for pt in c.get("ports", [])}
        if ports.get("http") != PUBLIC_PORT or ports.get("internal") != INTERNAL_PORT:
            p.append(f"{cn}: ports are not http={PUBLIC_PORT}, internal={INTERNAL_PORT}: {ports}")
        for var, value in env.items():
            if var in SECRET_NAMES and value is not None:
                p.append(f"{cn}: secret {var} given as a plain value (use {var}_FILE)")
        drain = int(config_value(objs, "SHUTDOWN_TIMEOUT_MS") or env.get("SHUTDOWN_TIMEOUT_MS") or 25000)
        pre_secs = (pre or {}).get("sleep", {}).get("seconds", 0)
        bound = -(-drain // 1000) + pre_secs + FLUSH_BOUND_SECS
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace <= bound:
            p.append(f"{n}: terminationGracePeriodSeconds {grace} is not above the drain bound {bound} s")
    return p


def check_companions(d, objs):
    """A Service, an HPA, a PodDisruptionBudget and a migration Job for the Deployment."""
    p, n = [], name(d)
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    if not any(selects(s["spec"].get("selector"), labels) for s in by_kind(objs, "Service")):
        p.append(f"{n}: no Service selects its pods")
    if not any(
        h["spec"]["scaleTargetRef"].get("kind") == "Deployment" and h["spec"]["scaleTargetRef"]["name"] == n
        for h in by_kind(objs, "HorizontalPodAutoscaler")
    ):
        p.append(f"{n}: no HorizontalPodAutoscaler")
    if not any(
        selects(b["spec"].get("selector", {}).get("matchLabels"), labels)
        for b in by_kind(objs, "PodDisruptionBudget")
    ):
        p.append(f"{n}: no PodDisruptionBudget")
    jobs = [j for j in by_kind(objs, "Job") if name(j) == f"{n}-migrate"]
    if not jobs:
        p.append(f"{n}: no migration Job {n}-migrate")
    for j in jobs:
        c = j["spec"]["template"]["spec"]["containers"][0]
        if c.get("args") != ["migrate"]:
            p.append(f"{name(j)}: does not run `{n} migrate`")
        extra = set(env_of(c)) - {"DATABASE_URL", "DATABASE_URL_FILE", "LOG_FORMAT", "RUST_LOG"}
        if extra or c.get("envFrom"):
            p.append(f"{name(j)}: needs more than DATABASE_URL: {sorted(extra)}")
        if j["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "server":
            p.append(f"{name(j)}: its pods would be selected as servers")
    return p


def check_network_policies(objs):
    p = []
    pols = by_kind(objs, "NetworkPolicy")
    deny = [
        x for x in pols
        if x["spec"].get("podSelector") in ({}, None)
        and set(x["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not x["spec"].get("ingress") and not x["spec"].get("egress")
    ]
    if not deny:
        p.append("no default-deny NetworkPolicy (all pods, Ingress and Egress, no rules)")
    # Who may reach each port of the servers.
    for x in pols:
        for rule in x["spec"].get("ingress", []):
            ports = {pt.get("port") for pt in rule.get("ports", [])}
            if not ports:
                p.append(f"{name(x)}: an ingress rule open on every port")
            if PUBLIC_PORT in ports:
                for peer in rule.get("from", []):
                    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                    if "ingress" not in ns.get("kubernetes.io/metadata.name", ""):
                        p.append(f"{name(x)}: the public port is open to more than the ingress controller")
            if INTERNAL_PORT in ports:
                for peer in rule.get("from", []):
                    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
                    pod = peer.get("podSelector", {}).get("matchLabels", {})
                    platform = pod.get("app.kubernetes.io/part-of") == "agentidp" and not peer.get("namespaceSelector")
                    if not platform and ns.get("kubernetes.io/metadata.name") != "monitoring":
                        p.append(f"{name(x)}: the internal port is open beyond platform pods and monitoring")
    return p


def check_ingress(objs):
    p = []
    for ing in by_kind(objs, "Ingress"):
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                port = path["backend"]["service"]["port"]
                if port.get("name") != "http" and port.get("number") != PUBLIC_PORT:
                    p.append(f"ingress path {path['path']} routes to a non-public port {port}")
                if re.match(r"^/(internal|metrics)(/|$)", path["path"]) or "detailed" in path["path"]:
                    p.append(f"ingress routes {path['path']}")
    if config_value(objs, "TRUSTED_PROXIES") in (None, ""):
        p.append("TRUSTED_PROXIES is not set for the ingress")
    return p


def check_custom(objs):
    """ServiceMonitor and PrometheusRule, which have no schema offline."""
    p = []
    internal_services = [
        s for s in by_kind(objs, "Service")
        if any(pt.get("name") == "internal" for pt in s["spec"].get("ports", []))
    ]
    for sm in by_kind(objs, "ServiceMonitor"):
        sel = sm["spec"].get("selector", {}).get("matchLabels", {})
        if not any(selects(sel, s["metadata"].get("labels", {})) for s in internal_services):
            p.append(f"ServiceMonitor {name(sm)} selects no Service with an internal port")
        for ep in sm["spec"].get("endpoints", []):
            if ep.get("port") != "internal" or ep.get("path") != "/metrics":
                p.append(f"ServiceMonitor {name(sm)} does not scrape /metrics on the internal port")
    if not by_kind(objs, "ServiceMonitor"):
        p.append("no ServiceMonitor")
    alerts = set()
    for pr in by_kind(objs, "PrometheusRule"):
        for g in pr["spec"].get("groups", []):
            for r in g.get("rules", []):
                if not r.get("expr") or not (r.get("alert") or r.get("record")):
                    p.append(f"PrometheusRule {name(pr)}: a rule without alert/record or expr")
                alerts.add(r.get("alert"))
    for needed in ("AuditChainBroken", "FeedLag", "High5xxRate", "TokenLatencyP99", "RedisDown", "DbPoolSaturated"):
        if f"AgentIdP{needed}" not in alerts:
            p.append(f"no alert AgentIdP{needed}")
    return p


def check_all(objs):
    p = []
    deployments = by_kind(objs, "Deployment")
    if {name(d) for d in deployments} < {"identity", "marketplace", "billing", "analytics"}:
        p.append(f"missing Deployments: {sorted(name(d) for d in deployments)}")
    for d in deployments:
        p += check_deployment(d, objs) + check_companions(d, objs)
    return p + check_network_policies(objs) + check_ingress(objs) + check_custom(objs)


# Secret variables (the 🔒 rows of docs/ENVIRONMENT.md), filled in by check.py.
SECRET_NAMES = set()

NGINX_LOCATION = re.compile(r"^\s*location\s+(=\s+)?(\S+)\s*\{\s*proxy_pass\s+http://([a-z]+)\S*;\s*\}")


def nginx_routes(text):
    """(pathType, path, service) of every proxied `location` of the nginx template."""
    out = set()
    for line in text.splitlines():
        m = NGINX_LOCATION.match(line)
        if m:
            out.add(("Exact" if m.group(1) else "Prefix", m.group(2), m.group(3)))
    return out


def ingress_routes(objs):
    out = set()
    for ing in by_kind(objs, "Ingress"):
        for rule in ing["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                out.add((path["pathType"], path["path"], path["backend"]["service"]["name"]))
    return out


def check_routes(nginx_text, objs):
    n, i = nginx_routes(nginx_text), ingress_routes(objs)
    p = [f"nginx routes {r} but the Ingress does not" for r in sorted(n - i)]
    p += [f"the Ingress routes {r} but nginx does not" for r in sorted(i - n)]
    if not n:
        p.append("no routes found in the nginx template")
    return p
