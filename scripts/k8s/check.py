"""Renders every overlay of k8s/ with kustomize, validates each object against the
Kubernetes schemas offline (kubernetes-validate, strict), applies the project's rules
(rules.py) and compares the Ingress with the local nginx ingress's routes.

    python3 scripts/k8s/check.py [--k8s-version 1.30.0]
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

import rules

ROOT = pathlib.Path(__file__).resolve().parents[2]
OVERLAYS = ["dev", "production"]


def render(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / overlay)],
        check=True, capture_output=True, text=True,
    ).stdout
    return out, [o for o in yaml.safe_load_all(out) if o]


def validate(text, version):
    """Problems kubernetes-validate reports; kinds without a schema other than the custom
    ones (ServiceMonitor, PrometheusRule) count as problems too."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(text)
        f.flush()
        res = subprocess.run(
            ["kubernetes-validate", "-k", version, "--strict", f.name],
            capture_output=True, text=True,
        )
    problems, passed = [], 0
    for line in (res.stdout + res.stderr).splitlines():
        if line.startswith("INFO") and " passed " in line:
            passed += 1
            continue
        m = re.search(r"Couldn't find schema for kind (\w+)", line)
        if m and m.group(1) in rules.CUSTOM_KINDS:
            continue
        if line.strip():
            problems.append(line)
    if res.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate exited {res.returncode}")
    return problems, passed


def secret_names():
    text = (ROOT / "docs" / "ENVIRONMENT.md").read_text()
    names = set()
    for row in re.findall(r"^\| (.*?🔒.*?) \|", text, re.M):
        names.update(re.findall(r"`([A-Z_]+)`", row.split("|")[0]))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k8s-version", default="1.30.0")
    args = ap.parse_args()
    rules.SECRET_NAMES.update(secret_names())
    nginx = (ROOT / "deploy" / "nginx" / "agentidp.conf.tmpl").read_text()
    failed = False
    for overlay in OVERLAYS:
        text, objs = render(overlay)
        problems, passed = validate(text, args.k8s_version)
        problems += rules.check_all(objs) + rules.check_routes(nginx, objs)
        kinds = sorted({o["kind"] for o in objs})
        print(f"k8s/overlays/{overlay}: {len(objs)} objects ({', '.join(kinds)}); "
              f"{passed} valid against Kubernetes {args.k8s_version}")
        for p in problems:
            print(f"  {overlay}: {p}")
        failed |= bool(problems)
    if failed:
        sys.exit(1)
    print("k8s: ok")


if __name__ == "__main__":
    main()
