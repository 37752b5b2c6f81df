//! What the search index reads: the listings written since a version, in pages.

use platform::db::GenericClient;
use uuid::Uuid;

use super::listings::{COLUMNS, row};
use crate::listing::Listing;

/// A listing as the projection last wrote it.
#[derive(Debug, Clone)]
pub struct Written {
    /// The listing.
    pub listing: Listing,
    /// Whether it is shown.
    pub visible: bool,
    /// The version that wrote it.
    pub version: i64,
}

/// Where a reading of changes stands: after this `(changed_version, id)`.
pub type Position = (i64, Uuid);

/// Up to `limit` listings written by versions in `(from, upto]`, after `position`, in
/// `(changed_version, id)` order. `only_visible` skips hidden ones (building from nothing).
pub async fn written(
    c: &impl GenericClient,
    position: Position,
    upto: i64,
    limit: i64,
    only_visible: bool,
) -> Result<Vec<Written>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, l.visible, l.changed_version FROM listings l
              WHERE (l.changed_version, l.id) > ($1, $2) AND l.changed_version <= $3
                AND (l.visible OR NOT $5)
              ORDER BY l.changed_version, l.id LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &stmt,
            &[&position.0, &position.1, &upto, &limit, &only_visible],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Written {
            listing: row(r),
            visible: r.get("visible"),
            version: r.get("changed_version"),
        })
        .collect())
}
