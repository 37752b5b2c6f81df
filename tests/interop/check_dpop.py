"""DPoP (RFC 9449) built with PyJWT, not ours: a proof for the token request, then proofs for
management calls on identity and on analytics; replayed, misdirected, stale, unbound and
downgraded uses are refused with 401 on both services."""
import base64
import hashlib
import json
import os
import sys
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from common import expect, setup


class Key:
    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))

    def proof(self, htm, htu, token=None, iat=None):
        claims = {"htm": htm, "htu": htu, "iat": int(iat or time.time()), "jti": str(uuid.uuid4())}
        if token:
            claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})


def main(base):
    tenant, _, _, _ = setup(base)
    analytics = os.environ["ANALYTICS_URL"].rstrip("/")
    meta = requests.get(f"{base}/.well-known/oauth-authorization-server").json()
    expect("ES256" in meta["dpop_signing_alg_values_supported"], "discovery lists DPoP algorithms")
    key = Key()
    token_url = f"{base}/oauth2/token"
    res = requests.post(token_url, data={"grant_type": "client_credentials"},
                        auth=(tenant["client_id"], tenant["client_secret"]),
                        headers={"DPoP": key.proof("POST", token_url)})
    expect(res.status_code == 200 and res.json()["token_type"] == "DPoP", f"DPoP token: {res.status_code} {res.text}")
    token = res.json()["access_token"]
    other = Key()
    for name, url in [("identity", f"{base}/api/v1/agents"), ("analytics", f"{analytics}/api/v1/analytics/tokens")]:
        ok = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)})
        expect(ok.status_code == 200, f"{name}: DPoP call {ok.status_code} {ok.text}")
        used = key.proof("GET", url, token)
        requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": used})
        for what, headers in [
            ("replayed proof", {"Authorization": f"DPoP {token}", "DPoP": used}),
            ("wrong htu", {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url + "x", token)}),
            ("wrong htm", {"Authorization": f"DPoP {token}", "DPoP": key.proof("POST", url, token)}),
            ("stale iat", {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token, time.time() - 600)}),
            ("missing ath", {"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url)}),
            ("another key", {"Authorization": f"DPoP {token}", "DPoP": other.proof("GET", url, token)}),
            ("Bearer downgrade", {"Authorization": f"Bearer {token}"}),
        ]:
            r = requests.get(url, headers=headers)
            expect(r.status_code == 401, f"{name}: {what} answered {r.status_code}")
            expect(r.headers.get("WWW-Authenticate", "").startswith("DPoP "), f"{name}: {what} challenge")
        print(f"ok: {name} accepts DPoP proofs made with PyJWT and refuses every misuse with 401")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
