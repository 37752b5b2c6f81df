//! private_key_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9): the
//! client proves itself with a JWT it signed with one of its registered keys.
//!
//! Rules: `iss` = `sub` = the client id (checked when the request is read); the key named by
//! `kid`, or every registered key when there is none; the algorithm is the key's (`none`,
//! HMAC and any other algorithm are refused); `aud` names the token endpoint or the issuer,
//! as `PUBLIC_URL` gives them or as the request was received; `exp` is required and at most
//! [`MAX_LIFETIME_SECS`] ahead (common client libraries sign for an hour); `nbf` and `iat`
//! are honoured; `jti` is required and accepted once across instances until `exp`.
//! Failures are reasons for the audit log; the client only learns `invalid_client`.

use jsonwebtoken::decode_header;
use platform::Failure;
use platform::auth::keyset::{Rejected, verify_jwt};
use serde_json::Value;
use time::OffsetDateTime;

use crate::federation::Issuers;
use crate::repo::clients::ClientKeys;
use crate::tokens::replay::Replays;

/// Longest an assertion may be valid for, from now.
pub const MAX_LIFETIME_SECS: i64 = 3600;
/// Clock skew tolerated.
const LEEWAY: i64 = 30;
/// Largest assertion accepted, in bytes.
const MAX_ASSERTION: usize = 8 * 1024;

/// Verifies client assertions.
#[derive(Debug, Clone)]
pub struct Assertions {
    /// Fetches clients' `jwks_uri` key sets.
    pub remote: Issuers,
    /// Single use of `jti`.
    pub replays: Replays,
    /// `PUBLIC_URL` without a trailing slash.
    pub issuer: String,
}

impl Assertions {
    /// Whether `assertion` proves `client_id`, whose keys are `keys`, on a request received
    /// at `url`; the error is the reason.
    pub async fn verify(
        &self,
        client_id: &str,
        keys: &ClientKeys,
        assertion: &str,
        url: &str,
    ) -> Result<Result<(), &'static str>, Failure> {
        if assertion.len() > MAX_ASSERTION {
            return Ok(Err("assertion_too_large"));
        }
        let Ok(header) = decode_header(assertion) else {
            return Ok(Err("assertion_malformed_or_unsupported_algorithm"));
        };
        let candidates: Vec<_> = match keys {
            ClientKeys::Inline(list) => list
                .iter()
                .filter(|(kid, _)| header.kid.is_none() || kid.as_deref() == header.kid.as_deref())
                .map(|(_, k)| k.clone())
                .collect(),
            ClientKeys::Uri(uri) => {
                self.remote
                    .jwks_at(uri)
                    .candidates(header.kid.as_deref())
                    .await
            }
        };
        let verified = verify_jwt(assertion, header.alg, &candidates, |v| {
            v.validate_aud = false;
            v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
            v.leeway = LEEWAY as u64;
            v.validate_nbf = true;
        });
        let claims = match verified {
            Ok(claims) => claims,
            Err(r) => {
                return Ok(Err(match r {
                    Rejected::UnknownKey => "assertion_unknown_key",
                    Rejected::AlgorithmNotOfKey => "assertion_algorithm_not_of_key",
                    Rejected::Expired => "assertion_expired",
                    Rejected::NotYetValid => "assertion_not_yet_valid",
                    Rejected::BadSignature => "assertion_bad_signature",
                    Rejected::Issuer | Rejected::MissingClaim | Rejected::Invalid => {
                        "assertion_invalid"
                    }
                }));
            }
        };
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
            return Ok(Err("assertion_subject"));
        }
        let auds: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(v)) => v.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !auds.iter().any(|a| self.accepts_audience(a, url)) {
            return Ok(Err("assertion_audience"));
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp > now + MAX_LIFETIME_SECS + LEEWAY {
            return Ok(Err("assertion_lifetime"));
        }
        if claims
            .get("iat")
            .and_then(Value::as_i64)
            .is_some_and(|iat| iat > now + LEEWAY)
        {
            return Ok(Err("assertion_issued_in_the_future"));
        }
        let Some(jti) = text("jti").filter(|j| !j.is_empty() && j.len() <= 256) else {
            return Ok(Err("assertion_jti"));
        };
        if !self
            .replays
            .first_use("assertion", &format!("{client_id}\n{jti}"), exp)
            .await?
        {
            return Ok(Err("assertion_replayed"));
        }
        Ok(Ok(()))
    }

    /// The issuer, or the endpoint the request reached, by `PUBLIC_URL` or as received.
    fn accepts_audience(&self, aud: &str, url: &str) -> bool {
        let aud = aud.trim_end_matches('/');
        let path = url
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        let received_origin = url.strip_suffix(path.as_str()).unwrap_or(url);
        aud == self.issuer
            || aud == format!("{}/oauth2/token", self.issuer)
            || aud == format!("{}{path}", self.issuer)
            || aud == url
            || aud == received_origin
            || aud == format!("{received_origin}/oauth2/token")
    }
}
