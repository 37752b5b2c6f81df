//! What the token endpoint knows of each tenant's resource servers: a small per-tenant cache.
//!
//! A token request that names an audience other than the platform API needs the tenant's
//! resource servers. They are read once per tenant and kept for the credential cache's
//! lifetime (`CREDENTIAL_CACHE_TTL_MS`), so a burst of requests costs one query per tenant
//! per lifetime, another instance's change is seen within a second, and this instance's own
//! changes drop the entry at once. Lookups of one tenant that miss together share one query;
//! a lookup whose future is dropped leaves the query to the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::Failure;
use platform::db::Db;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::repo::resource_servers;

/// Tenants kept beyond which expired entries are dropped.
const SWEEP_AT: usize = 10_000;

/// A tenant's resource servers: identifier → the scopes it defines.
#[derive(Debug, Default)]
pub struct TenantAudiences(HashMap<String, Box<[String]>>);

impl TenantAudiences {
    /// The scopes of the resource server named `identifier`, when the tenant has it.
    pub fn scopes_of(&self, identifier: &str) -> Option<&[String]> {
        self.0.get(identifier).map(|s| &s[..])
    }
}

struct Entry {
    created: Instant,
    servers: OnceCell<Arc<TenantAudiences>>,
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct Audiences {
    entries: Arc<Mutex<HashMap<Uuid, Arc<Entry>>>>,
    ttl: Duration,
    db: Db,
}

impl std::fmt::Debug for Audiences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audiences").field("ttl", &self.ttl).finish()
    }
}

impl Audiences {
    /// A cache over `db` trusting what it read for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            entries: Arc::new(Mutex::new(HashMap::new())),
            ttl,
            db,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<Entry>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry of `tenant`, a new one when there is none or it expired.
    fn entry(&self, tenant: Uuid) -> Arc<Entry> {
        let mut map = self.lock();
        if let Some(e) = map.get(&tenant)
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
            servers: OnceCell::new(),
        });
        map.insert(tenant, e.clone());
        e
    }

    /// The resource servers of `tenant`, from the cache when fresh, else from PostgreSQL.
    pub async fn of(&self, tenant: Uuid) -> Result<Arc<TenantAudiences>, Failure> {
        let entry = self.entry(tenant);
        entry
            .servers
            .get_or_try_init(|| async {
                let c = self.db.get().await?;
                let rows = resource_servers::audiences(&c, tenant).await?;
                Ok::<_, Failure>(Arc::new(TenantAudiences(
                    rows.into_iter()
                        .map(|(identifier, scopes)| (identifier, scopes.into_boxed_slice()))
                        .collect(),
                )))
            })
            .await
            .cloned()
    }

    /// Forgets `tenant`'s resource servers (after a change on this instance).
    pub fn invalidate(&self, tenant: Uuid) {
        self.lock().remove(&tenant);
    }
}
