//! Advisory locks that elect one instance for a background job.

use platform::db::GenericClient;

/// Takes the session-level advisory lock `key` if no other session holds it.
pub async fn try_lock(c: &impl GenericClient, key: i64) -> Result<bool, tokio_postgres::Error> {
    Ok(c.query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await?
        .get(0))
}

/// Releases the session-level advisory lock `key`.
pub async fn unlock(c: &impl GenericClient, key: i64) -> Result<(), tokio_postgres::Error> {
    c.execute("SELECT pg_advisory_unlock($1)", &[&key]).await?;
    Ok(())
}

/// Takes the advisory lock `key` for the rest of the transaction if no other transaction
/// holds it.
pub async fn try_lock_xact(
    c: &impl GenericClient,
    key: i64,
) -> Result<bool, tokio_postgres::Error> {
    Ok(c.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key])
        .await?
        .get(0))
}
