//! SQL of `stripe_events`: the dedupe of webhook deliveries.

use platform::db::GenericClient;
use uuid::Uuid;

/// Records an event id; `false` when it was recorded before (a redelivery). A concurrent
/// delivery of the same event waits here for the first one's transaction to end.
pub async fn claim(
    c: &impl GenericClient,
    event_id: &str,
    event_type: &str,
    created: i64,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            "INSERT INTO stripe_events (event_id, event_type, created) VALUES ($1, $2, $3)
             ON CONFLICT (event_id) DO NOTHING",
            &[&event_id, &event_type, &created],
        )
        .await?;
    Ok(n == 1)
}

/// Notes which tenant an event concerned (for support).
pub async fn set_tenant(
    c: &impl GenericClient,
    event_id: &str,
    tenant: Uuid,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE stripe_events SET tenant_id = $2 WHERE event_id = $1",
        &[&event_id, &tenant],
    )
    .await?;
    Ok(())
}
