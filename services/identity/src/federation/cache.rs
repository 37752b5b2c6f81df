//! The policies of each external issuer, as the exchange reads them: kept for the credential
//! cache's lifetime (`CREDENTIAL_CACHE_TTL_MS`), so a burst of exchanges costs one query per
//! issuer per lifetime, another instance's change is seen within a second, and this
//! instance's own changes drop the entry at once. Lookups that miss together share one query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::Failure;
use platform::db::Db;
use tokio::sync::OnceCell;

use crate::repo::federation::{self as repo, MatchRow};

/// Issuers kept beyond which expired entries are dropped.
const SWEEP_AT: usize = 10_000;

struct Entry {
    created: Instant,
    policies: OnceCell<Arc<[MatchRow]>>,
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct PolicyCache {
    entries: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
    ttl: Duration,
    db: Db,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyCache")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl PolicyCache {
    /// A cache over `db` trusting what it read for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            entries: Arc::default(),
            ttl,
            db,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self, issuer: &str) -> Arc<Entry> {
        let mut map = self.lock();
        if let Some(e) = map.get(issuer)
            && e.created.elapsed() < self.ttl
        {
            return e.clone();
        }
        if map.len() >= SWEEP_AT {
            let ttl = self.ttl;
            map.retain(|_, e| e.created.elapsed() < ttl);
        }
        let e = Arc::new(Entry {
            created: Instant::now(),
            policies: OnceCell::new(),
        });
        map.insert(issuer.to_owned(), e.clone());
        e
    }

    /// The policies accepting tokens of `issuer` (none for an unknown issuer).
    pub async fn of(&self, issuer: &str) -> Result<Arc<[MatchRow]>, Failure> {
        let entry = self.entry(issuer);
        entry
            .policies
            .get_or_try_init(|| async {
                let c = self.db.get().await?;
                Ok::<_, Failure>(repo::for_issuer(&c, issuer).await?.into())
            })
            .await
            .cloned()
    }

    /// Forgets `issuer`'s policies (after a change on this instance).
    pub fn invalidate(&self, issuer: &str) {
        self.lock().remove(issuer);
    }
}
