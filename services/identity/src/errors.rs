//! The one error every rule shares: a dependency failed.
//!
//! Rules decide outcomes the caller sees (not found, conflict, refused...) and say so in their
//! own error enums; routes map those to HTTP once. A failing dependency (no pooled
//! connection, a PostgreSQL error, a sealing failure) is not a decision: platform has already
//! classified it as an answer (503 `database_unavailable`, an opaque 500, ...), and
//! [`Failure`] carries that answer through the rules unchanged.

use platform::ApiError;

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

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self(ApiError::internal(e))
    }
}

/// `From` conversions of dependency failures into a rule's error enum, whose variant
/// `Failure(Failure)` carries them: `?` works on pool, PostgreSQL and `anyhow` errors.
macro_rules! failure_from {
    ($error:ty) => {
        impl From<$crate::errors::Failure> for $error {
            fn from(e: $crate::errors::Failure) -> Self {
                Self::Failure(e)
            }
        }
        impl From<platform::ApiError> for $error {
            fn from(e: platform::ApiError) -> Self {
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

pub(crate) use failure_from;
