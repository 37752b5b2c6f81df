//! The policies of each external issuer, as the exchange reads them: kept for the credential
//! cache's lifetime (`CREDENTIAL_CACHE_TTL_MS`) in a [`KeyedCache`], so a burst of exchanges
//! costs one query per issuer per lifetime and another instance's change is seen within a
//! second; this instance's own changes drop the issuer at once.

use std::sync::Arc;
use std::time::Duration;

use platform::Failure;
use platform::db::Db;

use crate::keyed_cache::KeyedCache;
use crate::repo::federation::{self as repo, MatchRow};

/// The cache; cheap to clone.
#[derive(Clone, Debug)]
pub struct PolicyCache {
    cache: KeyedCache<String, Arc<[MatchRow]>>,
    db: Db,
}

impl PolicyCache {
    /// A cache over `db` trusting what it read for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            cache: KeyedCache::new(ttl),
            db,
        }
    }

    /// The policies accepting tokens of `issuer` (none for an unknown issuer).
    pub async fn of(&self, issuer: &str) -> Result<Arc<[MatchRow]>, Failure> {
        self.cache
            .get_or_load(&issuer.to_owned(), || async {
                let c = self.db.get().await?;
                Ok::<_, Failure>(repo::for_issuer(&c, issuer).await?.into())
            })
            .await
    }

    /// Forgets `issuer`'s policies (after a change on this instance).
    pub fn invalidate(&self, issuer: &str) {
        self.cache.invalidate(&issuer.to_owned());
    }
}
