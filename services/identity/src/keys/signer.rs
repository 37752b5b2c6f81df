//! A signing key, parsed once and kept ready to sign.
//!
//! `jsonwebtoken::encode` parses the private key on every call; here the aws-lc-rs key pair
//! is built when the key is loaded, and the JWT header is encoded once per key.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::crypto::{b64url, sha256};

/// A JWS algorithm we sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 SHA-256 (default).
    Es256,
    /// RSASSA-PKCS1-v1_5 SHA-256, 2048-bit keys.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::EdDsa => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ES256" => Ok(Self::Es256),
            "RS256" => Ok(Self::Rs256),
            "EdDSA" => Ok(Self::EdDsa),
            _ => Err(()),
        }
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A loaded signing key.
pub struct SigningKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Its algorithm.
    pub alg: Alg,
    /// When it starts signing.
    pub activates_at: OffsetDateTime,
    /// The public JWK (with `kid`, `alg`, `use`).
    pub public_jwk: serde_json::Value,
    header_b64: String,
    pair: Pair,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .finish()
    }
}

/// PKCS#8 DER of a fresh key of `alg`.
pub fn generate_pkcs8(alg: Alg) -> anyhow::Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let err = |_| anyhow::anyhow!("key generation failed");
    Ok(match alg {
        Alg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(err)?
            .as_ref()
            .to_vec(),
        Alg::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(err)?
            .as_der()
            .map_err(err)?
            .as_ref()
            .to_vec(),
        Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(err)?
            .as_ref()
            .to_vec(),
    })
}

fn public_members(pair: &Pair) -> serde_json::Value {
    match pair {
        Pair::Ec(k) => {
            // Uncompressed point: 0x04 || X (32) || Y (32).
            let p = k.public_key().as_ref();
            json!({"crv": "P-256", "kty": "EC", "x": b64url(&p[1..33]), "y": b64url(&p[33..65])})
        }
        Pair::Rsa(k) => {
            let pk = k.public_key();
            json!({
                "e": b64url(pk.exponent().big_endian_without_leading_zero()),
                "kty": "RSA",
                "n": b64url(pk.modulus().big_endian_without_leading_zero()),
            })
        }
        Pair::Ed(k) => {
            json!({"crv": "Ed25519", "kty": "OKP", "x": b64url(k.public_key().as_ref())})
        }
    }
}

/// The RFC 7638 thumbprint of a JWK's required public members (serde_json sorts keys).
pub fn thumbprint(required_members: &serde_json::Value) -> String {
    b64url(sha256(required_members.to_string().as_bytes()))
}

impl SigningKey {
    /// Parses a PKCS#8 private key (PKCS#1 is also accepted for RSA).
    pub fn from_der(alg: Alg, der: &[u8], activates_at: OffsetDateTime) -> anyhow::Result<Self> {
        let pair = match alg {
            Alg::Es256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| anyhow::anyhow!("not a P-256 PKCS#8 key: {e}"))?,
            ),
            Alg::Rs256 => Pair::Rsa(
                RsaKeyPair::from_pkcs8(der)
                    .or_else(|_| RsaKeyPair::from_der(der))
                    .map_err(|e| anyhow::anyhow!("not an RSA key: {e}"))?,
            ),
            Alg::EdDsa => Pair::Ed(
                Ed25519KeyPair::from_pkcs8(der)
                    .or_else(|_| Ed25519KeyPair::from_pkcs8_maybe_unchecked(der))
                    .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?,
            ),
        };
        let members = public_members(&pair);
        let kid = thumbprint(&members);
        let mut public_jwk = members;
        public_jwk["kid"] = kid.clone().into();
        public_jwk["alg"] = alg.as_str().into();
        public_jwk["use"] = "sig".into();
        let header = json!({"alg": alg.as_str(), "kid": kid, "typ": "at+jwt"});
        Ok(Self {
            header_b64: b64url(header.to_string()),
            kid,
            alg,
            activates_at,
            public_jwk,
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// `base64url(header)` of JWTs signed with this key.
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// The JWS signature of `signing_input` (`header.payload`).
    pub fn sign(&self, signing_input: &[u8]) -> anyhow::Result<Vec<u8>> {
        let err = |_| anyhow::anyhow!("signing failed");
        Ok(match &self.pair {
            Pair::Ec(k) => k
                .sign(&self.rng, signing_input)
                .map_err(err)?
                .as_ref()
                .to_vec(),
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &self.rng, signing_input, &mut sig)
                    .map_err(err)?;
                sig
            }
            Pair::Ed(k) => k.sign(signing_input).as_ref().to_vec(),
        })
    }

    /// A compact JWS over `payload_json` with the access-token header (`typ: at+jwt`).
    pub fn sign_jwt(&self, payload_json: &[u8]) -> anyhow::Result<String> {
        self.sign_compact(&self.header_b64, payload_json)
    }

    /// A compact JWS over `payload_json` whose header names another type (`typ`), so that
    /// nothing else this key signs can pass for an access token.
    pub fn sign_typed(&self, typ: &str, payload_json: &[u8]) -> anyhow::Result<String> {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ});
        let header_b64 = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            header.to_string(),
        );
        self.sign_compact(&header_b64, payload_json)
    }

    fn sign_compact(&self, header_b64: &str, payload_json: &[u8]) -> anyhow::Result<String> {
        let mut out = String::with_capacity(header_b64.len() + payload_json.len() * 4 / 3 + 120);
        out.push_str(header_b64);
        out.push('.');
        base64::Engine::encode_string(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            payload_json,
            &mut out,
        );
        let sig = self.sign(out.as_bytes())?;
        out.push('.');
        base64::Engine::encode_string(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            sig,
            &mut out,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_verifiably() {
        for alg in [Alg::Es256, Alg::Rs256, Alg::EdDsa] {
            let der = generate_pkcs8(alg).unwrap();
            let key = SigningKey::from_der(alg, &der, OffsetDateTime::now_utc()).unwrap();
            let jwt = key.sign_jwt(br#"{"sub":"x","exp":4102444800}"#).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk.clone()).unwrap();
            let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let jalg = match alg {
                Alg::Es256 => jsonwebtoken::Algorithm::ES256,
                Alg::Rs256 => jsonwebtoken::Algorithm::RS256,
                Alg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            };
            let mut v = jsonwebtoken::Validation::new(jalg);
            v.validate_aud = false;
            v.set_required_spec_claims::<&str>(&[]);
            let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &dk, &v).unwrap();
            assert_eq!(data.claims["sub"], "x", "{alg}");
            assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
        }
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let members = json!({
            "e": "AQAB",
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        });
        assert_eq!(
            thumbprint(&members),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
