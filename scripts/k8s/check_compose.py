"""deploy/compose.yaml keeps the deployment's rules where no compose engine can render
it: every service and its migration, services as in Kubernetes (non-root, read-only,
no capabilities, internal port, secrets only from .env), migrations needing only
DATABASE_URL, and every variable it reads listed in .env.example."""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = ["identity", "marketplace", "billing", "analytics"]


def problems(compose, env_example):
    p = []
    svcs = compose.get("services", {})
    for needed in ["postgres", "redis", "ingress", "otel-collector", *SERVICES,
                   *[f"{s}-migrate" for s in SERVICES]]:
        if needed not in svcs:
            p.append(f"no service {needed}")
    for s in SERVICES:
        svc = svcs.get(s, {})
        env = svc.get("environment", {})
        if svc.get("read_only") is not True:
            p.append(f"{s}: root filesystem is not read-only")
        if str(svc.get("user", "0")).split(":")[0] in ("0", "root"):
            p.append(f"{s}: runs as root")
        if "ALL" not in svc.get("cap_drop", []):
            p.append(f"{s}: capabilities are not dropped")
        if str(env.get("INTERNAL_PORT")) != "9090":
            p.append(f"{s}: INTERNAL_PORT is not 9090")
        for var in ("IDENTITY_URL", "BILLING_URL"):
            if not str(env.get(var, "")).endswith(":9090"):
                p.append(f"{s}: {var} does not point at an internal port")
        dep = svc.get("depends_on", {}).get(f"{s}-migrate", {})
        if dep.get("condition") != "service_completed_successfully":
            p.append(f"{s}: does not wait for its migration")
        build = svc.get("build", {})
        if build.get("args", {}).get("SERVICE") != s or build.get("dockerfile") != "deploy/Dockerfile":
            p.append(f"{s}: not built from deploy/Dockerfile with SERVICE={s}")
        m = svcs.get(f"{s}-migrate", {})
        if m.get("command") != ["migrate"] or set(m.get("environment", {})) != {"DATABASE_URL"}:
            p.append(f"{s}-migrate: must run `migrate` with DATABASE_URL only")
    text = (ROOT / "deploy" / "compose.yaml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    listed = set(re.findall(r"^([A-Z_]+)=", env_example, re.M))
    for var in sorted(used - listed):
        p.append(f"compose reads ${{{var}}} but .env.example does not list it")
    return p


def main():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    found = problems(compose, (ROOT / ".env.example").read_text())
    for f in found:
        print(f"  compose: {f}")
    if found:
        sys.exit(1)
    print("compose: ok")


if __name__ == "__main__":
    main()
