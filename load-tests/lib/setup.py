#!/usr/bin/env python3
"""Creates a tenant, agents and credentials on a running identity for load tests.

Usage: setup.py BASE_URL AGENTS CREDENTIALS_PER_AGENT [--lua FILE] [--json FILE]
Prints nothing on success; writes the credentials as a wrk Lua table (precomputed
Authorization headers) and/or JSON. Standard library only.
"""
import base64
import json
import sys
import urllib.request
import uuid


def call(method, url, body=None, token=None, form=None, basic=None):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    if form is not None:
        data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    if token:
        headers["authorization"] = f"Bearer {token}"
    if basic:
        headers["authorization"] = "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def main():
    args = sys.argv[1:]
    base, agents, per_agent = args[0].rstrip("/"), int(args[1]), int(args[2])
    out_lua = args[args.index("--lua") + 1] if "--lua" in args else None
    out_json = args[args.index("--json") + 1] if "--json" in args else None
    suffix = uuid.uuid4().hex[:8]
    signup = call("POST", f"{base}/api/v1/tenants", {"name": f"Load {suffix}", "email": f"load-{suffix}@example.com"})
    admin = call("POST", f"{base}/oauth2/token", form={"grant_type": "client_credentials"},
                 basic=(signup["client_id"], signup["client_secret"]))["access_token"]
    creds = []
    for a in range(agents):
        agent = call("POST", f"{base}/api/v1/agents", {
            "name": f"load agent {a}", "agent_type": "classifier", "version": "1.0.0",
            "capabilities": ["documents:read"], "owner": "load@example.com",
            "deployment_env": "staging", "tags": ["load"],
        }, token=admin)
        for _ in range(per_agent):
            c = call("POST", f"{base}/api/v1/agents/{agent['id']}/credentials", {}, token=admin)
            creds.append({"agent_id": agent["id"], "client_id": c["client_id"], "client_secret": c["client_secret"]})
    if out_lua:
        with open(out_lua, "w") as f:
            f.write("return {\n")
            for c in creds:
                header = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
                f.write(f'  "Basic {header}",\n')
            f.write("}\n")
    if out_json:
        with open(out_json, "w") as f:
            json.dump({"tenant": signup, "admin_token": admin, "credentials": creds}, f)


if __name__ == "__main__":
    main()
