//! The public keys a private_key_jwt client registers: an inline JWK Set or a `jwks_uri`.
//!
//! Accepted keys: EC P-256 (ES256), Ed25519 (EdDSA) and RSA of at least 2048 bits (RS256).
//! A key carrying private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) is refused:
//! the private key never leaves the client. At most [`MAX_KEYS`] keys, `kid`s unique.

use base64::Engine as _;
use platform::errors::FieldError;
use platform::net::Cidr;
use serde_json::Value;

use crate::federation::issuers::plain_http_allowed;

/// Most keys of one client.
pub const MAX_KEYS: usize = 10;
/// Longest `jwks_uri`.
const MAX_URI: usize = 512;
/// Members only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks a submitted `jwks` (field name `field`); returns it as stored.
pub fn check_jwks(jwks: &Value, field: &str, errors: &mut Vec<FieldError>) -> Value {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        errors.push(FieldError::new(
            field,
            "must be a JWK Set: {\"keys\": [...]}",
        ));
        return Value::Null;
    };
    if keys.is_empty() || keys.len() > MAX_KEYS {
        errors.push(FieldError::new(
            format!("{field}.keys"),
            "must hold 1 to 10 keys",
        ));
        return Value::Null;
    }
    let mut kids: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let f = format!("{field}.keys[{i}]");
        let Some(obj) = k.as_object() else {
            errors.push(FieldError::new(f, "must be a JWK object"));
            continue;
        };
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            errors.push(FieldError::new(
                f,
                "carries private key material; register the public key only",
            ));
            continue;
        }
        if let Some(kid) = obj.get("kid").and_then(Value::as_str) {
            if kids.contains(&kid) {
                errors.push(FieldError::new(f, "repeats a kid"));
                continue;
            }
            kids.push(kid);
        }
        if let Some(problem) = key_problem(k) {
            errors.push(FieldError::new(f, problem));
            continue;
        }
        out.push(k.clone());
    }
    serde_json::json!({ "keys": out })
}

fn key_problem(k: &Value) -> Option<&'static str> {
    let text = |m: &str| k.get(m).and_then(Value::as_str);
    let supported = match (text("kty"), text("crv"), text("alg")) {
        (Some("EC"), Some("P-256"), None | Some("ES256")) => true,
        (Some("OKP"), Some("Ed25519"), None | Some("EdDSA")) => true,
        (Some("RSA"), _, None | Some("RS256")) => {
            let bits = text("n")
                .and_then(|n| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(n)
                        .ok()
                })
                .map(|n| n.iter().skip_while(|b| **b == 0).count() * 8)
                .unwrap_or(0);
            if bits < 2048 {
                return Some("an RSA key must have at least 2048 bits");
            }
            true
        }
        _ => false,
    };
    if !supported {
        return Some("must be an EC P-256 (ES256), Ed25519 (EdDSA) or RSA (RS256) public key");
    }
    let parsed: Option<jsonwebtoken::jwk::Jwk> = serde_json::from_value(k.clone()).ok();
    match parsed.map(|j| jsonwebtoken::DecodingKey::from_jwk(&j)) {
        Some(Ok(_)) => None,
        _ => Some("is not a valid public key"),
    }
}

/// A private_key_jwt client's keys as submitted and checked: inline or by address.
pub type Keys = (Option<Value>, Option<String>);

/// The keys of `jwks` / `jwks_uri` (exactly one of them), checked.
pub fn keys_of(
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
    allowed: &[Cidr],
    errors: &mut Vec<FieldError>,
) -> Keys {
    match (jwks, jwks_uri) {
        (Some(j), None) => (Some(check_jwks(j, "jwks", errors)), None),
        (None, Some(u)) => {
            check_jwks_uri(u, allowed, errors);
            (None, Some(u.to_owned()))
        }
        _ => {
            errors.push(FieldError::new(
                "jwks",
                "a private_key_jwt client needs jwks or jwks_uri (one of them)",
            ));
            (None, None)
        }
    }
}

/// The keys a new client asks for with `type` (`client_secret`, the default, or
/// `private_key_jwt`), checked; `None` for a secret client.
pub fn requested(
    kind: Option<&str>,
    jwks: Option<&Value>,
    jwks_uri: Option<&str>,
    allowed: &[Cidr],
    errors: &mut Vec<FieldError>,
) -> Option<Keys> {
    match kind.unwrap_or("client_secret") {
        "client_secret" => {
            if jwks.is_some() || jwks_uri.is_some() {
                errors.push(FieldError::new(
                    "jwks",
                    "keys are for \"type\": \"private_key_jwt\" clients",
                ));
            }
            None
        }
        "private_key_jwt" => Some(keys_of(jwks, jwks_uri, allowed, errors)),
        _ => {
            errors.push(FieldError::new(
                "type",
                "must be client_secret or private_key_jwt",
            ));
            None
        }
    }
}

/// Checks a `jwks_uri`: `https`, or `http` to an address of `allowed`
/// (`FEDERATION_ALLOWED_NETWORKS`); no credentials or fragment.
pub fn check_jwks_uri(uri: &str, allowed: &[Cidr], errors: &mut Vec<FieldError>) {
    let Ok(url) = reqwest::Url::parse(uri) else {
        errors.push(FieldError::new("jwks_uri", "must be an https URL"));
        return;
    };
    if uri.len() > MAX_URI
        || (url.scheme() != "https" && !plain_http_allowed(&url, allowed))
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        errors.push(FieldError::new(
            "jwks_uri",
            "must be an https URL of at most 512 characters without credentials or fragment",
        ));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn private_material_small_rsa_and_unknown_curves_are_refused() {
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "a",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let mut errors = Vec::new();
        let out = check_jwks(&json!({"keys": [ec]}), "jwks", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(out["keys"].as_array().unwrap().len(), 1);
        let mut with_d = ec.clone();
        with_d["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
        let small_n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xc3u8; 128]);
        let small_rsa = json!({"kty": "RSA", "n": small_n, "e": "AQAB"});
        for (key, why) in [
            (with_d, "private"),
            (small_rsa, "2048"),
            (
                json!({"kty": "EC", "crv": "P-384", "x": "a", "y": "b"}),
                "EC P-256",
            ),
            (json!({"kty": "oct", "k": "c2VjcmV0"}), "private"),
        ] {
            let mut errors = Vec::new();
            check_jwks(&json!({"keys": [key]}), "jwks", &mut errors);
            assert!(
                errors.iter().any(|e| e.message.contains(why)),
                "{why}: {errors:?}"
            );
        }
    }
}
