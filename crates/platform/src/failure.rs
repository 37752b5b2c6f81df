//! The one error every service's rules share: a dependency failed.
//!
//! Rules decide outcomes the caller sees (not found, conflict, refused...) and say so in their
//! own error enums; routes map those to HTTP once. A failing dependency (no pooled
//! connection, a PostgreSQL error, a sealing failure) is not a decision: platform has already
//! classified it as an answer (503 `database_unavailable`, an opaque 500, ...), and
//! [`Failure`] carries that answer through the rules unchanged.

use crate::errors::ApiError;

/// A dependency failed; carries platform's classification of the failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub ApiError);

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self(e.into())
    }
}

impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        e.0
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self(ApiError::internal(e))
    }
}

/// `From` conversions of dependency failures into a rule's error enum whose variant
/// `Failure(platform::Failure)` carries them, so `?` works on pool, PostgreSQL and `anyhow`
/// errors. The calling crate depends on `tokio-postgres` and `anyhow`.
///
/// ```ignore
/// #[derive(Debug, thiserror::Error)]
/// pub enum AgentError {
///     #[error("agent not found")]
///     NotFound,
///     #[error(transparent)]
///     Failure(platform::Failure),
/// }
/// platform::failure_from!(AgentError);
/// ```
#[macro_export]
macro_rules! failure_from {
    ($error:ty) => {
        impl From<$crate::Failure> for $error {
            fn from(e: $crate::Failure) -> Self {
                Self::Failure(e)
            }
        }
        impl From<$crate::ApiError> for $error {
            fn from(e: $crate::ApiError) -> Self {
                Self::Failure(e.into())
            }
        }
        impl From<tokio_postgres::Error> for $error {
            fn from(e: tokio_postgres::Error) -> Self {
                Self::Failure(e.into())
            }
        }
        impl From<anyhow::Error> for $error {
            fn from(e: anyhow::Error) -> Self {
                Self::Failure(e.into())
            }
        }
    };
}
