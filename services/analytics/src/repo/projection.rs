//! SQL of the projection as a whole.

use platform::db::GenericClient;

/// Empties the projection: rollups, agents and credentials (in the caller's transaction).
pub async fn clear(c: &impl GenericClient) -> anyhow::Result<()> {
    c.batch_execute("TRUNCATE rollups, agents, credentials")
        .await?;
    Ok(())
}
