//! One listing with its agent's DID document.

use platform::db::Db;
use uuid::Uuid;

use crate::failure::Failure;
use crate::repo::listings;

/// Reads single listings.
#[derive(Debug)]
pub struct Details {
    db: Db,
    /// `PUBLIC_URL` without a trailing slash (links).
    public_base: String,
}

impl Details {
    /// Listings of `db`, linked under `public_base`.
    pub fn new(db: Db, public_base: String) -> Self {
        Self { db, public_base }
    }

    /// The JSON body of the visible listing `id`; `None` for anything else (unknown, hidden,
    /// malformed id).
    pub async fn body(&self, id: &str) -> Result<Option<Vec<u8>>, Failure> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        let listing = {
            let c = self.db.get().await.map_err(Failure::Connection)?;
            listings::get_visible(&c, id).await?
        };
        let Some(listing) = listing else {
            return Ok(None);
        };
        Ok(Some(serde_json::to_vec(
            &listing.detail(&self.public_base),
        )?))
    }
}
