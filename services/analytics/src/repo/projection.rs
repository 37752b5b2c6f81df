//! SQL of `projection_state` and the projection's reset.

use domain::FeedCursor;
use platform::db::GenericClient;

/// The last event `projection` applied (the start when it applied none).
pub async fn applied_through(
    c: &impl GenericClient,
    projection: &str,
) -> anyhow::Result<FeedCursor> {
    let stmt = c
        .prepare_cached("SELECT applied_through FROM projection_state WHERE projection = $1")
        .await?;
    match c.query_opt(&stmt, &[&projection]).await? {
        Some(r) => r
            .get::<_, String>(0)
            .parse()
            .map_err(|e: String| anyhow::anyhow!("stored position of {projection}: {e}")),
        None => Ok(FeedCursor::START),
    }
}

/// Records that `projection` applied every event up to `cursor`.
pub async fn set_applied_through(
    c: &impl GenericClient,
    projection: &str,
    cursor: FeedCursor,
) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO projection_state (projection, applied_through, updated_at)
             VALUES ($1, $2, now())
             ON CONFLICT (projection) DO UPDATE
                SET applied_through = excluded.applied_through, updated_at = now()",
        )
        .await?;
    c.execute(&stmt, &[&projection, &cursor.to_string()])
        .await?;
    Ok(())
}

/// Empties the projection and rewinds `consumer` to the start of the feed, so that the
/// next pages rebuild everything from identity's events (in the caller's transaction).
pub async fn reset(c: &impl GenericClient, consumer: &str) -> anyhow::Result<()> {
    c.batch_execute(
        "TRUNCATE rollups, agents, credentials;
         DELETE FROM projection_state;",
    )
    .await?;
    platform::feed::store_cursor(c, consumer, FeedCursor::START).await
}
