//! What can go wrong inside a request that the caller did not cause.

use platform::ApiError;

/// A step of a request failed: answered as the platform answers such failures (503 when
/// transient, else an opaque 500).
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No database connection became free (the platform's answer, passed on).
    #[error("{0}")]
    Connection(ApiError),
    /// A statement failed.
    #[error(transparent)]
    Query(#[from] tokio_postgres::Error),
    /// A response body could not be written.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    /// The search index failed.
    #[error("search index: {0:#}")]
    Index(anyhow::Error),
}
