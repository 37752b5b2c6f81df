"""Federated token exchange (RFC 8693) driven by independent libraries: a GitHub-shaped OIDC
issuer served here (discovery and JWKS over plain http.server) whose RS256 tokens PyJWT mints,
exchanged with plain `requests`, and the result verified by PyJWT against our JWKS."""
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from common import expect, setup

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


class Issuer:
    """A GitHub Actions-shaped issuer on 127.0.0.1."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "interop-1"
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/.well-known/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"]}
                elif self.path == "/.well-known/jwks":
                    jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    jwk.update({"kid": issuer.kid, "alg": "RS256", "use": "sig"})
                    body = {"keys": [jwk]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, aud, repository="octo-org/octo-repo", ref="refs/heads/main", **extra):
        now = int(time.time())
        owner = repository.split("/")[0]
        claims = {
            "jti": str(uuid.uuid4()), "sub": f"repo:{repository}:ref:{ref}", "aud": aud,
            "ref": ref, "repository": repository, "repository_owner": owner,
            "repository_id": "123456", "repository_owner_id": "654321",
            "workflow_ref": f"{repository}/.github/workflows/ci.yml@{ref}",
            "job_workflow_ref": f"{repository}/.github/workflows/ci.yml@{ref}",
            "event_name": "push", "ref_type": "branch", "runner_environment": "github-hosted",
            "iss": self.url, "iat": now, "nbf": now, "exp": now + 300,
        }
        claims.update(extra)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def exchange(base, subject, **extra):
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ID_TOKEN}
    data.update(extra)
    return requests.post(f"{base}/oauth2/token", data=data)


def main(base):
    tenant, admin, agent, _ = setup(base)
    gh = Issuer()
    h = {"Authorization": f"Bearer {admin}"}
    policy = requests.post(f"{base}/api/v1/federation/trust-policies", headers=h, json={
        "name": "Interop CI", "provider": "github_actions", "issuer": gh.url,
        "agent_id": agent["id"], "scopes": ["documents:read"],
        "conditions": {"repository": "octo-org/octo-repo", "ref": "refs/heads/main"},
    })
    expect(policy.status_code == 201, f"policy: {policy.status_code} {policy.text}")
    aud = policy.json()["audience"]

    external = gh.token(aud)
    res = exchange(base, external)
    expect(res.status_code == 200, f"exchange: {res.status_code} {res.text}")
    body = res.json()
    expect(body["issued_token_type"] == ACCESS_TOKEN, f"issued_token_type: {body}")
    expect(body["token_type"] == "Bearer" and body["scope"] == "documents:read", f"answer: {body}")

    # Verify the issued token with PyJWT against our JWKS, as any resource server would.
    meta = requests.get(f"{base}/.well-known/oauth-authorization-server").json()
    expect(EXCHANGE in meta["grant_types_supported"], "discovery lists token exchange")
    jwks = jwt.PyJWKClient(meta["jwks_uri"])
    signing = jwks.get_signing_key_from_jwt(body["access_token"])
    claims = jwt.decode(body["access_token"], signing.key, algorithms=["ES256", "RS256", "EdDSA"],
                        audience=meta["issuer"], issuer=meta["issuer"])
    expect(claims["sub"] == agent["id"], f"sub: {claims}")
    expect(claims["fed"] == {"iss": gh.url, "sub": "repo:octo-org/octo-repo:ref:refs/heads/main"}, f"fed: {claims}")
    expect(claims["client_id"] == f"trust_policy:{policy.json()['id']}", f"client_id: {claims}")

    # Refusals: replay, another branch, wrong audience, a token PyJWT signed with another key.
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    forged = jwt.encode({"iss": gh.url, "sub": "repo:octo-org/octo-repo:ref:refs/heads/main", "aud": aud,
                         "repository": "octo-org/octo-repo", "ref": "refs/heads/main",
                         "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())},
                        other_key, algorithm="RS256", headers={"kid": gh.kid})
    for what, token in [
        ("replay", external),
        ("another branch", gh.token(aud, ref="refs/heads/dev")),
        ("wrong audience", gh.token("https://github.com/octo-org")),
        ("another key", forged),
        ("expired", gh.token(aud, exp=now - 120, iat=now - 600, nbf=now - 600)),
    ]:
        r = exchange(base, token)
        expect(r.status_code == 400 and r.json().get("error") == "invalid_grant", f"{what}: {r.status_code} {r.text}")
    print("federation: PyJWT-minted GitHub tokens exchanged; results verified with PyJWT")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
