"""An independent DID library (pydid) accepts our did:web documents: the deployment's at
/.well-known/did.json and each agent's at /agents/<id>/did.json. The agent's document is
the one its API representation names, its key is a P-256 JWK, and a decommissioned agent's
DID answers 410."""
import sys

import pydid
import requests

from common import expect, setup

identity = sys.argv[1].rstrip("/")
tenant, admin, agent, _cred = setup(identity)
h = {"Authorization": f"Bearer {admin}"}

# The deployment's DID, with the token signing keys.
res = requests.get(f"{identity}/.well-known/did.json")
expect(res.status_code == 200, f"instance DID: {res.status_code}")
expect(res.headers["content-type"].startswith("application/did+json"), res.headers["content-type"])
doc = pydid.deserialize_document(res.json())
expect(str(doc.id).startswith("did:web:"), f"instance DID {doc.id}")
jwks = requests.get(f"{identity}/.well-known/jwks.json").json()
kids = {k["kid"] for k in jwks["keys"]}
for vm in doc.verification_method:
    expect(vm.public_key_jwk["kid"] in kids, f"{vm.id} is not a published signing key")
print(f"ok: instance DID {doc.id} parsed by pydid with {len(doc.verification_method)} key(s)")

# The agent's DID.
did = agent["did"]
expect(did.startswith("did:web:") and did.endswith(f":agents:{agent['id']}"), f"agent DID {did}")
res = requests.get(f"{identity}/agents/{agent['id']}/did.json")
expect(res.status_code == 200, f"agent DID document: {res.status_code}")
doc = pydid.deserialize_document(res.json())
expect(str(doc.id) == did, f"document id {doc.id} != {did}")
expect(len(doc.verification_method) == 1, "one verification method")
vm = doc.verification_method[0]
expect(str(vm.controller) == did, f"controller {vm.controller}")
expect(vm.public_key_jwk["kty"] == "EC" and vm.public_key_jwk["crv"] == "P-256", f"jwk {vm.public_key_jwk}")
expect("d" not in vm.public_key_jwk, "the private key leaked into the DID document")
for rel in (doc.authentication, doc.assertion_method):
    expect(any(str(getattr(r, "id", r)) == str(vm.id) for r in rel), f"{vm.id} missing from a relationship")
expect(doc.dereference(vm.id) is not None, "the verification method does not dereference")
print(f"ok: agent DID {did} parsed by pydid")

# Decommissioned: the DID is deactivated.
res = requests.delete(f"{identity}/api/v1/agents/{agent['id']}", headers=h)
expect(res.status_code in (200, 204), f"decommission: {res.status_code} {res.text}")
res = requests.get(f"{identity}/agents/{agent['id']}/did.json")
expect(res.status_code == 410, f"decommissioned agent DID: {res.status_code}")
print("ok: decommissioned agent's DID answers 410")
