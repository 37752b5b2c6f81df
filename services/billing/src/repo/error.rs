//! A failure of the database as the rules report it.

use platform::ApiError;

/// The pool or a query failed. Platform has already classified it (a saturated or
/// unreachable database is a 503 with `Retry-After`, anything else an opaque 500); the
/// rules pass it on unchanged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub ApiError);

impl From<ApiError> for StoreError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self(e.into())
    }
}
