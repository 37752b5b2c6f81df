//! Why a token was refused, and the answer that refusal gets.

use crate::errors::ApiError;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No or malformed `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// Signature, claims or key problem.
    #[error("{0}")]
    Invalid(String),
    /// The token was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// Revocation could not be checked.
    #[error("revocation status unavailable")]
    Unavailable,
    /// A DPoP proof is missing, invalid, replayed or of another key.
    #[error("{0}")]
    Dpop(&'static str),
    /// A DPoP proof without the server's current nonce (which the answer carries).
    #[error("{}", super::dpop::USE_DPOP_NONCE)]
    UseDpopNonce(String),
    /// A token bound to a key (`cnf`) sent under the Bearer scheme, or an unbound token
    /// sent under the DPoP scheme.
    #[error("{0}")]
    Scheme(&'static str),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ApiError::unavailable(
                "revocation_unavailable",
                "token revocation cannot be checked right now; try again shortly",
                1,
            ),
            AuthError::Dpop(detail) => dpop_challenge("invalid_dpop_proof", detail),
            AuthError::UseDpopNonce(nonce) => {
                dpop_challenge("use_dpop_nonce", super::dpop::USE_DPOP_NONCE).with_header(
                    actix_web::http::header::HeaderName::from_static("dpop-nonce"),
                    &nonce,
                )
            }
            AuthError::Scheme(detail) => dpop_challenge("invalid_token", detail),
            other => ApiError::unauthorized(other.to_string()),
        }
    }
}

/// 401 with a DPoP challenge (RFC 9449 §7.1) naming the accepted algorithms.
fn dpop_challenge(error: &str, detail: &'static str) -> ApiError {
    let challenge = format!(
        "DPoP error=\"{error}\", error_description=\"{detail}\", algs=\"ES256 RS256 EdDSA\""
    );
    ApiError::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "unauthorized",
        detail,
    )
    .with_header(actix_web::http::header::WWW_AUTHENTICATE, &challenge)
}
