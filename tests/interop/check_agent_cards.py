"""Agent cards, checked by the A2A project's own SDK: every AgentCard that analytics exports
(and that identity serves at /agents/<id>/.well-known/agent-card.json) parses as the
`AgentCard` protobuf message of the pinned a2a-sdk, whose JSON parser rejects unknown fields,
with every REQUIRED field present; every OASF record carries the record's required fields
with the right types. Suspended agents have no card. The partner command
`analytics check-cards` agrees, and the JSON Schema it pins matches the SDK."""
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import requests
from a2a.types import a2a_pb2
from google.api import field_behavior_pb2
from google.protobuf import json_format

import a2a_schema
from common import expect, setup

base = sys.argv[1].rstrip("/")
analytics = os.environ["ANALYTICS_URL"].rstrip("/")
root = Path(__file__).resolve().parents[2]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_required(field):
    return field_behavior_pb2.REQUIRED in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]


def missing_required(desc, obj, path="card"):
    """REQUIRED fields of `desc` absent (or empty) in the JSON object, recursively."""
    out = []
    for f in desc.fields:
        value = obj.get(f.json_name, obj.get(f.name))
        map_field = f.message_type is not None and f.message_type.GetOptions().map_entry
        if is_required(f):
            if value is None or (f.type == f.TYPE_STRING and not f.is_repeated and value == ""):
                out.append(f"{path}.{f.json_name}")
                continue
            if f.is_repeated and not map_field and len(value) == 0:
                out.append(f"{path}.{f.json_name} (empty)")
        if value is None or f.message_type is None or f.message_type.full_name.startswith("google.protobuf"):
            continue
        if map_field:
            vf = f.message_type.fields_by_name["value"]
            if vf.message_type is not None:
                for k, v in value.items():
                    out += missing_required(vf.message_type, v, f"{path}.{f.json_name}[{k}]")
        elif f.is_repeated:
            for i, v in enumerate(value):
                out += missing_required(f.message_type, v, f"{path}.{f.json_name}[{i}]")
        else:
            out += missing_required(f.message_type, value, f"{path}.{f.json_name}")
    return out


def check_a2a(card, what):
    msg = json_format.Parse(json.dumps(card), a2a_pb2.AgentCard())  # unknown fields raise
    missing = missing_required(a2a_pb2.AgentCard.DESCRIPTOR, card)
    expect(not missing, f"{what}: required fields missing: {missing}")
    expect(all(i.protocol_version == "1.0" for i in msg.supported_interfaces), f"{what}: protocolVersion")
    scheme = msg.security_schemes["agentidp_oauth2"].oauth2_security_scheme
    expect(scheme.flows.client_credentials.token_url == f"{base}/oauth2/token", f"{what}: tokenUrl")
    return msg


def check_oasf(rec, what):
    def typed(key, kind):
        expect(isinstance(rec.get(key), kind), f"{what}: {key} must be {kind.__name__}, got {rec.get(key)!r}")

    for key in ("name", "version", "schema_version", "description", "created_at"):
        typed(key, str)
        expect(rec[key] != "", f"{what}: {key} is empty")
    expect(rec["schema_version"] == "0.8.0", f"{what}: schema_version {rec['schema_version']}")
    typed("authors", list)
    expect(rec["authors"] and all(isinstance(a, str) and a for a in rec["authors"]), f"{what}: authors")
    expect(RFC3339.match(rec["created_at"]) is not None, f"{what}: created_at {rec['created_at']} is not RFC 3339")
    datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00"))
    typed("skills", list)
    expect(rec["skills"], f"{what}: no skills")
    for s in rec["skills"]:
        expect(isinstance(s, dict) and (isinstance(s.get("name"), str) or isinstance(s.get("id"), int)),
               f"{what}: skill {s!r}")
    typed("locators", list)
    for loc in rec["locators"]:
        expect(isinstance(loc.get("type"), str) and isinstance(loc.get("url"), str), f"{what}: locator {loc!r}")


tenant, admin, agent, cred = setup(base)
h = {"Authorization": f"Bearer {admin}"}
bare = requests.post(f"{base}/api/v1/agents", headers=h, json={
    "name": "Bare agent", "agent_type": "custom", "version": "0.1.0", "owner": "ops@example.com",
    "deployment_env": "development",
})
bare.raise_for_status()
sleeper = requests.post(f"{base}/api/v1/agents", headers=h, json={
    "name": "Sleeper", "agent_type": "monitor", "version": "1.0.0", "owner": "ops@example.com",
    "deployment_env": "staging", "capabilities": ["metrics:read"],
})
sleeper.raise_for_status()
requests.post(f"{base}/api/v1/agents/{sleeper.json()['id']}/suspend", headers=h).raise_for_status()
active_ids = [agent["id"], bare.json()["id"]]

deadline = time.time() + 30
while True:
    r = requests.get(f"{analytics}/api/v1/compliance/agent-cards", headers=h)
    r.raise_for_status()
    export = r.json()
    ids = [a["agent_id"] for a in export["agents"]]
    if ids == active_ids:
        break
    expect(time.time() < deadline, f"the export lists {ids}, expected exactly the active agents {active_ids}")
    time.sleep(0.2)

for entry in export["agents"]:
    what = f"agent {entry['agent_id']}"
    card = check_a2a(entry["a2a_agent_card"], what)
    check_oasf(entry["oasf_record"], what)
    served = requests.get(f"{base}/agents/{entry['agent_id']}/.well-known/agent-card.json")
    expect(served.status_code == 200, f"{what}: served card answered {served.status_code}")
    expect(served.json() == entry["a2a_agent_card"], f"{what}: served card differs from the export")
    print(f"ok: {what} AgentCard parses as a2a-sdk AgentCard ({len(card.skills)} skills), OASF record valid")
expect(requests.get(f"{base}/agents/{sleeper.json()['id']}/.well-known/agent-card.json").status_code == 404,
       "a suspended agent serves a card")

# The parser really rejects unknown fields (so the checks above mean something).
try:
    json_format.Parse(json.dumps({**export["agents"][0]["a2a_agent_card"], "bogus": 1}), a2a_pb2.AgentCard())
    expect(False, "a card with an unknown field parsed")
except json_format.ParseError:
    print("ok: unknown AgentCard fields are rejected")

pinned = root / "services/analytics/schemas/a2a-agent-card-1.0.schema.json"
expect(pinned.read_text() == json.dumps(a2a_schema.schema(), indent=2) + "\n",
       f"{pinned} differs from the pinned a2a-sdk's AgentCard; regenerate it with tests/interop/a2a_schema.py")
print(f"ok: {pinned.name} matches a2a-sdk {a2a_schema.A2A_SDK}")

out = subprocess.run([os.environ["ANALYTICS_BIN"], "check-cards", "--url", analytics, "--token", admin],
                     capture_output=True, text=True)
expect(out.returncode == 0, f"check-cards exited {out.returncode}: {out.stdout}{out.stderr}")
print(f"ok: check-cards: {out.stdout.strip().splitlines()[-1]}")
