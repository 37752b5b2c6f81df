"""A standard OAuth 2.0 client (authlib) obtains tokens with client_secret_basic and
client_secret_post; an independent JWT library (PyJWT) verifies them against our JWKS."""
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

from common import expect, setup

base = sys.argv[1].rstrip("/")
tenant, admin, agent, cred = setup(base)
meta = requests.get(f"{base}/.well-known/oauth-authorization-server").json()
token_url = meta["token_endpoint"]
expect(token_url == f"{base}/oauth2/token", f"token endpoint {token_url}")

jwks = jwt.PyJWKClient(meta["jwks_uri"])
for method in ("client_secret_basic", "client_secret_post"):
    client = OAuth2Session(cred["client_id"], cred["client_secret"], token_endpoint_auth_method=method,
                           scope="documents:read")
    tok = client.fetch_token(token_url, grant_type="client_credentials")
    expect(tok["token_type"].lower() == "bearer", f"{method}: token_type {tok['token_type']}")
    expect(tok["scope"] == "documents:read", f"{method}: scope {tok['scope']}")
    key = jwks.get_signing_key_from_jwt(tok["access_token"])
    claims = jwt.decode(tok["access_token"], key.key, algorithms=["ES256", "RS256", "EdDSA"],
                        audience=meta["issuer"], issuer=meta["issuer"])
    expect(claims["sub"] == agent["id"], f"{method}: sub {claims['sub']}")
    expect(claims["client_id"] == cred["client_id"], f"{method}: client_id")
    expect(claims["tenant_id"] == tenant["tenant"]["id"], f"{method}: tenant_id")
    expect(jwt.get_unverified_header(tok["access_token"])["alg"] == "ES256", f"{method}: alg")
    # The token works against the management API only if it carries the scope.
    r = requests.get(f"{base}/api/v1/agents", headers={"Authorization": f"Bearer {tok['access_token']}"})
    expect(r.status_code == 403, f"{method}: documents:read reached the agents API ({r.status_code})")
    print(f"ok: authlib {method} token verified by PyJWT (kid {key.key_id})")

# A wrong secret is an RFC 6749 invalid_client.
bad = OAuth2Session(cred["client_id"], "wrong", token_endpoint_auth_method="client_secret_post")
try:
    bad.fetch_token(token_url, grant_type="client_credentials")
    expect(False, "a wrong secret obtained a token")
except Exception as e:  # authlib raises OAuthError with the RFC 6749 error code
    expect("invalid_client" in str(e), f"wrong secret: {e}")
    print("ok: wrong secret refused with invalid_client")
