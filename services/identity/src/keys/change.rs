//! A change of the key table: its transaction, and the audit event of a new key (system
//! chain).

use platform::db::Db;

use crate::audit::change::Change;
use crate::audit::event::{NewEvent, SYSTEM_TENANT, format_time};
use crate::repo::keys::KeyRow;

/// Opens a change of the key table.
pub async fn begin(db: &Db) -> anyhow::Result<Change<'static>> {
    Change::begin(db).await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Commits a change opened by [`begin`] with its events.
pub async fn commit(change: Change<'_>) -> anyhow::Result<()> {
    change.commit().await.map_err(|e| anyhow::anyhow!("{e}"))
}

/// `signing_key.created`, for the change that stores `row`.
pub fn created(row: &KeyRow) -> NewEvent {
    NewEvent::new(
        SYSTEM_TENANT,
        "system",
        "signing_key.created",
        Some(format!("key:{}", row.kid)),
    )
    .details(serde_json::json!({
        "kid": row.kid,
        "alg": row.alg,
        "source": row.source,
        "activates_at": format_time(row.activates_at),
    }))
}
