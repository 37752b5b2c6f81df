//! Verifying an external OIDC token (an ID token or other JWT of a trusted issuer): its
//! signature with the issuer's key named by `kid` (every key of the set when it names
//! none), the algorithm taken from the key (so `none`, HMAC or any algorithm other than the
//! key's is refused), `iss`, `exp`, `nbf` and `iat` with 30 s of leeway.

use jsonwebtoken::decode_header;
use platform::auth::keyset::{KeySet, Rejected, verify_jwt};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Largest external token accepted, in bytes.
pub const MAX_TOKEN: usize = 16 * 1024;
/// Clock skew tolerated.
const LEEWAY: i64 = 30;

/// A verified external token.
#[derive(Debug, Clone)]
pub struct External {
    /// Every claim.
    pub claims: Map<String, Value>,
    /// `iss`.
    pub iss: String,
    /// `sub`.
    pub sub: String,
    /// `aud` (one or several).
    pub aud: Vec<String>,
    /// `jti`, when it has one.
    pub jti: Option<String>,
    /// `exp`.
    pub exp: i64,
}

/// The `iss` an unverified token claims (to find the policies and keys to verify it with).
pub fn claimed_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&raw).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Verifies `token` of `issuer` with `keys`. The error is the reason, for the audit log.
pub async fn verify(token: &str, issuer: &str, keys: &KeySet) -> Result<External, &'static str> {
    if token.len() > MAX_TOKEN {
        return Err("token_too_large");
    }
    let header = decode_header(token).map_err(|_| "malformed_or_unsupported_algorithm")?;
    let candidates = keys.candidates(header.kid.as_deref()).await;
    let claims = verify_jwt(token, header.alg, &candidates, |v| {
        v.set_issuer(&[issuer]);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        v.leeway = LEEWAY as u64;
        v.validate_nbf = true;
    })
    .map_err(Rejected::as_str)?;
    read(claims)
}

fn read(claims: Map<String, Value>) -> Result<External, &'static str> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat > now + LEEWAY)
    {
        return Err("issued_in_the_future");
    }
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(v)) => v
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return Err("audience"),
    };
    Ok(External {
        iss: text("iss").ok_or("issuer")?,
        sub: text("sub").ok_or("missing_claim")?,
        jti: text("jti"),
        exp: claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or("missing_claim")?,
        aud,
        claims,
    })
}
