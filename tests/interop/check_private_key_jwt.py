"""private_key_jwt (RFC 7523) driven by authlib, not ours: key credentials registered with an EC
and an RSA public key obtain tokens; the tokens verify with PyJWT against our JWKS."""
import json
import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from common import expect, setup


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def main(base):
    tenant, admin, agent, _ = setup(base)
    h = {"Authorization": f"Bearer {admin}"}
    meta = requests.get(f"{base}/.well-known/oauth-authorization-server").json()
    expect("private_key_jwt" in meta["token_endpoint_auth_methods_supported"], "discovery lists private_key_jwt")
    token_url = meta["token_endpoint"]
    jwks = jwt.PyJWKClient(meta["jwks_uri"])
    for name, key, public, alg in [
        ("EC P-256", ec.generate_private_key(ec.SECP256R1()), ECAlgorithm, "ES256"),
        ("RSA 2048", rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm, "RS256"),
    ]:
        jwk = json.loads(public.to_jwk(key.public_key()))
        cred = requests.post(f"{base}/api/v1/agents/{agent['id']}/credentials", headers=h,
                             json={"type": "private_key_jwt", "jwks": {"keys": [jwk]}})
        expect(cred.status_code == 201, f"{name}: credential {cred.status_code} {cred.text}")
        expect("client_secret" not in cred.json(), f"{name}: a key credential has no secret")
        client_id = cred.json()["client_id"]
        session = OAuth2Session(client_id, pem(key), token_endpoint_auth_method="private_key_jwt")
        session.register_client_auth_method(PrivateKeyJWT(token_url, alg=alg))
        token = session.fetch_token(token_url, grant_type="client_credentials")
        signing = jwks.get_signing_key_from_jwt(token["access_token"])
        claims = jwt.decode(token["access_token"], signing.key, algorithms=["ES256", "RS256", "EdDSA"],
                            audience=meta["issuer"], issuer=meta["issuer"])
        expect(claims["client_id"] == client_id, f"{name}: client_id {claims}")
        print(f"ok: authlib private_key_jwt ({name}, {alg}) token verified by PyJWT")
        # A private key sent as the credential's key is refused.
        private = json.loads(public.to_jwk(key))
        bad = requests.post(f"{base}/api/v1/agents/{agent['id']}/credentials", headers=h,
                            json={"type": "private_key_jwt", "jwks": {"keys": [private]}})
        expect(bad.status_code == 422, f"{name}: private key material refused ({bad.status_code})")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
