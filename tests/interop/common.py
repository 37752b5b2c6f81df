"""Helpers shared by the interoperability checks: set up a tenant, agent and credential."""
import uuid

import requests


def setup(base):
    s = uuid.uuid4().hex[:8]
    t = requests.post(f"{base}/api/v1/tenants", json={"name": f"Interop {s}", "email": f"interop-{s}@example.com"})
    t.raise_for_status()
    t = t.json()
    admin = requests.post(f"{base}/oauth2/token", data={"grant_type": "client_credentials"},
                          auth=(t["client_id"], t["client_secret"])).json()["access_token"]
    h = {"Authorization": f"Bearer {admin}"}
    agent = requests.post(f"{base}/api/v1/agents", headers=h, json={
        "name": "Interop agent", "agent_type": "extractor", "version": "2.1.0",
        "capabilities": ["documents:read", "documents:write"], "owner": "interop@example.com",
        "deployment_env": "production", "tags": ["interop"],
    })
    agent.raise_for_status()
    agent = agent.json()
    cred = requests.post(f"{base}/api/v1/agents/{agent['id']}/credentials", headers=h, json={})
    cred.raise_for_status()
    return t, admin, agent, cred.json()


def expect(cond, msg):
    if not cond:
        raise SystemExit(f"FAILED: {msg}")
