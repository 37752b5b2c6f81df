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
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ApiError::unavailable(
                "revocation_unavailable",
                "token revocation cannot be checked right now; try again shortly",
                1,
            ),
            other => ApiError::unauthorized(other.to_string()),
        }
    }
}
