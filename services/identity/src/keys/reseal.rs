//! Re-sealing: every value sealed with the key-encryption key is sealed again under the
//! primary key, the middle step of a `KEY_ENCRYPTION_KEY` rotation (docs/SECURITY.md).
//!
//! Each value is opened (with the primary or the secondary key), sealed under the primary
//! key and written back only if it did not change meanwhile, so running instances and a
//! second run are safe. One audit event in the system chain records the counts.

use platform::db::Db;
use serde::Serialize;

use crate::audit::event::{NewEvent, SYSTEM_TENANT};
use crate::crypto::Kek;
use crate::repo::sealed::{self, SealedTable};

/// Rows read per page.
const PAGE: i64 = 500;

/// What a re-sealing did, per table.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ResealReport {
    /// Values sealed again under the primary key.
    pub resealed: std::collections::BTreeMap<&'static str, u64>,
    /// Values already under the primary key.
    pub unchanged: u64,
}

/// Re-seals every sealed value of the database under `kek`'s primary key.
pub async fn reseal(db: &Db, kek: &Kek) -> anyhow::Result<ResealReport> {
    let mut report = ResealReport::default();
    let c = db.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    for table in SealedTable::ALL {
        let mut after = String::new();
        let mut count = 0;
        loop {
            let rows = sealed::page(&c, table, &after, PAGE).await?;
            for row in &rows {
                let aad = row.aad.as_bytes();
                if kek.opens_with_primary(aad, &row.sealed) {
                    report.unchanged += 1;
                    continue;
                }
                let plain = kek
                    .open(aad, &row.sealed)
                    .map_err(|e| anyhow::anyhow!("{} {}: {e}", table.name(), row.key))?;
                let new = kek.seal(aad, &plain)?;
                if sealed::replace(&c, table, &row.key, &row.sealed, &new).await? {
                    count += 1;
                }
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == PAGE => after = last.key.clone(),
                _ => break,
            }
        }
        report.resealed.insert(table.name(), count);
    }
    drop(c);
    let mut change = super::change::begin(db).await?;
    change.event(
        NewEvent::new(SYSTEM_TENANT, "system", "kek.resealed", None)
            .details(serde_json::to_value(&report)?),
    );
    super::change::commit(change).await?;
    Ok(report)
}
