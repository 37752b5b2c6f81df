//! DPoP (RFC 9449): proofs of possession of a key, and tokens bound to that key.
//!
//! A proof is a JWT with `typ: dpop+jwt`, an asymmetric `alg` (ES256, RS256, EdDSA) and the
//! public key in its header (`jwk`, no private members); its claims name the request
//! (`htm`, the method; `htu`, the URL without query or fragment, compared with the URL as
//! received and as `PUBLIC_URL` gives it), when it was made (`iat`, within
//! [`MAX_AGE_SECS`]), a unique `jti`, and at a resource server `ath`, the SHA-256 of the
//! access token. The key's RFC 7638 thumbprint is the `jkt` a bound token carries in
//! `cnf`. A proof's `jti` is accepted once, across instances and services (Redis).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::jwks::jwk_alg;

/// How far a proof's `iat` may be from now, either way.
pub const MAX_AGE_SECS: i64 = 60;
/// Largest proof accepted, in bytes.
const MAX_PROOF: usize = 8 * 1024;
/// Members only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a proof without a valid server nonce is told, when nonces are required.
pub const USE_DPOP_NONCE: &str = "the DPoP proof must carry the server's nonce (DPoP-Nonce)";
/// How long a nonce is current (the previous one is still accepted).
const NONCE_WINDOW_SECS: i64 = 300;

/// Server nonces (RFC 9449 §8): the HMAC of a five-minute window under a secret every
/// instance shares, so any instance accepts any instance's nonce without shared state.
pub struct Nonces {
    key: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces")
    }
}

impl Nonces {
    /// Nonces derived from `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
        }
    }

    fn of_window(&self, window: i64) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.key, format!("dpop-nonce:{window}").as_bytes());
        B64.encode(&tag.as_ref()[..18])
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.of_window(now.div_euclid(NONCE_WINDOW_SECS))
    }

    /// Whether `nonce` is the current or the previous window's.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let w = now.div_euclid(NONCE_WINDOW_SECS);
        [w, w - 1].iter().any(|w| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                self.of_window(*w).as_bytes(),
                nonce.as_bytes(),
            )
            .is_ok()
        })
    }
}

/// The `cnf` claim of a DPoP-bound token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Confirmation {
    /// The SHA-256 thumbprint of the proof key (base64url).
    pub jkt: String,
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// Thumbprint of its key.
    pub jkt: String,
    /// Its `jti` (to be used once).
    pub jti: String,
    /// Its `iat`.
    pub iat: i64,
}

/// What a proof must name.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// `htm`: the request's method.
    pub method: &'a str,
    /// `htu`: any of these (as received, as `PUBLIC_URL` gives it).
    pub urls: &'a [&'a str],
    /// The access token it comes with (`ath`), at a resource server.
    pub access_token: Option<&'a str>,
    /// Now, unix seconds.
    pub now: i64,
    /// Server nonces, when proofs must carry one.
    pub nonces: Option<&'a Nonces>,
}

/// base64url(SHA-256(`data`)).
pub fn sha256_b64(data: &[u8]) -> String {
    B64.encode(digest::digest(&digest::SHA256, data))
}

/// The RFC 7638 thumbprint of a public JWK.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            s("crv")?,
            s("x")?,
            s("y")?
        ),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, s("crv")?, s("x")?),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return None,
    };
    Some(sha256_b64(canonical.as_bytes()))
}

/// The URL a proof's `htu` is compared as: no query, no fragment.
pub fn normalize_htu(u: &str) -> &str {
    let end = u.find(['?', '#']).unwrap_or(u.len());
    &u[..end]
}

/// Verifies `proof` for `expected`; the error names the problem (for the answer's
/// `error_description` and the logs).
pub fn verify(proof: &str, expected: Expected<'_>) -> Result<Proof, &'static str> {
    if proof.len() > MAX_PROOF {
        return Err("the DPoP proof is too large");
    }
    let header: Map<String, Value> = proof
        .split('.')
        .next()
        .and_then(|h| B64.decode(h).ok())
        .and_then(|raw| serde_json::from_slice(&raw).ok())
        .ok_or("the DPoP proof is not a JWT")?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("the DPoP proof's typ must be dpop+jwt");
    }
    let jwk_value = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or("the DPoP proof has no jwk")?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_value.contains_key(*m)) {
        return Err("the DPoP proof's jwk carries private key material");
    }
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(Value::Object(jwk_value.clone()))
        .map_err(|_| "the DPoP proof's jwk is not a public key")?;
    let alg = jwk_alg(&jwk).ok_or("the DPoP proof's key type is not supported")?;
    let named: Option<Algorithm> = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse().ok());
    if named != Some(alg) {
        return Err("the DPoP proof's alg is not its key's");
    }
    let key =
        DecodingKey::from_jwk(&jwk).map_err(|_| "the DPoP proof's jwk is not a public key")?;
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &v)
        .map_err(|_| "the DPoP proof's signature is invalid")?
        .claims;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("htm") != Some(expected.method) {
        return Err("the DPoP proof's htm is not this request's method");
    }
    let htu = text("htu")
        .map(normalize_htu)
        .ok_or("the DPoP proof has no htu")?;
    if !expected
        .urls
        .iter()
        .any(|u| normalize_htu(u).eq_ignore_ascii_case(htu))
    {
        return Err("the DPoP proof's htu is not this request's URL");
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("the DPoP proof has no iat")?;
    if (expected.now - iat).abs() > MAX_AGE_SECS {
        return Err("the DPoP proof is stale (iat)");
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or("the DPoP proof has no jti")?;
    if let Some(token) = expected.access_token
        && text("ath") != Some(sha256_b64(token.as_bytes()).as_str())
    {
        return Err("the DPoP proof's ath is not this access token's hash");
    }
    if let Some(n) = expected.nonces
        && !text("nonce").is_some_and(|v| n.accepts(v, expected.now))
    {
        return Err(USE_DPOP_NONCE);
    }
    let jkt = thumbprint(jwk_value).ok_or("the DPoP proof's key type is not supported")?;
    Ok(Proof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn htu_ignores_query_and_fragment() {
        assert_eq!(
            normalize_htu("https://a.example/p?x=1#f"),
            "https://a.example/p"
        );
    }
}
