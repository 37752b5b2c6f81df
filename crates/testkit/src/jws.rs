//! Client-side keys for tests: an EC P-256 key that signs ES256 JWTs (private_key_jwt
//! assertions, DPoP proofs) and publishes its public JWK.

#![expect(
    clippy::expect_used,
    reason = "a test helper: key generation and signing with a fresh key cannot fail"
)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// An ES256 key.
pub struct EcKey {
    pair: EcdsaKeyPair,
    /// Its `kid`.
    pub kid: String,
}

impl std::fmt::Debug for EcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKey").field("kid", &self.kid).finish()
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    crate::oidc::now()
}

impl EcKey {
    /// A fresh key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation");
        Self {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
                .expect("P-256 key"),
            kid: kid.to_owned(),
        }
    }

    /// The public JWK (with `kid` and `alg`).
    pub fn jwk(&self) -> Value {
        let mut j = self.bare_jwk();
        j["kid"] = json!(self.kid);
        j["alg"] = json!("ES256");
        j["use"] = json!("sig");
        j
    }

    /// The public JWK with only its key members (as a DPoP header carries it).
    pub fn bare_jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        })
    }

    /// `{"keys": [<jwk>]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk()] })
    }

    /// `claims` signed ES256 under `header` (given as is).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ES256 signing");
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    /// A private_key_jwt client assertion of `client_id` for `aud`, valid `lifetime` s.
    pub fn assertion(&self, client_id: &str, aud: &str, lifetime: i64) -> String {
        let now = now();
        self.sign_with_header(
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            &json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now,
                    "exp": now + lifetime, "jti": uuid::Uuid::new_v4().to_string()}),
        )
    }

    /// A DPoP proof for `htm` `htu` (and `access_token`, whose hash goes in `ath`).
    pub fn dpop(&self, htm: &str, htu: &str, access_token: Option<&str>) -> String {
        self.dpop_at(htm, htu, access_token, now())
    }

    /// A DPoP proof made at `iat`.
    pub fn dpop_at(&self, htm: &str, htu: &str, access_token: Option<&str>, iat: i64) -> String {
        self.dpop_full(htm, htu, access_token, iat, None)
    }

    /// A DPoP proof carrying the server's `nonce`.
    pub fn dpop_nonce(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        nonce: &str,
    ) -> String {
        self.dpop_full(htm, htu, access_token, now(), Some(nonce))
    }

    fn dpop_full(
        &self,
        htm: &str,
        htu: &str,
        access_token: Option<&str>,
        iat: i64,
        nonce: Option<&str>,
    ) -> String {
        let mut claims = json!({"htm": htm, "htu": htu, "iat": iat,
                                "jti": uuid::Uuid::new_v4().to_string()});
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(t) = access_token {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            claims["ath"] = json!(B64.encode(digest.as_ref()));
        }
        self.sign_with_header(
            &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.bare_jwk()}),
            &claims,
        )
    }
}
