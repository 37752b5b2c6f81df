//! What the token endpoint knows of each tenant's resource servers: a small per-tenant cache.
//!
//! A token request that names an audience other than the platform API needs the tenant's
//! resource servers. They are read once per tenant and kept for the credential cache's
//! lifetime (`CREDENTIAL_CACHE_TTL_MS`), so a burst of requests costs one query per tenant
//! per lifetime, another instance's change is seen within a second, and this instance's own
//! changes drop the entry at once. Lookups of one tenant that miss together share one query;
//! a lookup whose future is dropped leaves the query to the next one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use platform::Failure;
use platform::db::Db;
use uuid::Uuid;

use crate::keyed_cache::KeyedCache;
use crate::repo::resource_servers;

/// A tenant's resource servers: identifier → the scopes it defines.
#[derive(Debug, Default)]
pub struct TenantAudiences(HashMap<String, Box<[String]>>);

impl TenantAudiences {
    /// The scopes of the resource server named `identifier`, when the tenant has it.
    pub fn scopes_of(&self, identifier: &str) -> Option<&[String]> {
        self.0.get(identifier).map(|s| &s[..])
    }
}

/// The cache; cheap to clone.
#[derive(Clone, Debug)]
pub struct Audiences {
    cache: KeyedCache<Uuid, Arc<TenantAudiences>>,
    db: Db,
}

impl Audiences {
    /// A cache over `db` trusting what it read for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            cache: KeyedCache::new(ttl),
            db,
        }
    }

    /// The resource servers of `tenant`, from the cache when fresh, else from PostgreSQL.
    pub async fn of(&self, tenant: Uuid) -> Result<Arc<TenantAudiences>, Failure> {
        self.cache
            .get_or_load(&tenant, || async {
                let c = self.db.get().await?;
                let rows = resource_servers::audiences(&c, tenant).await?;
                Ok::<_, Failure>(Arc::new(TenantAudiences(
                    rows.into_iter()
                        .map(|(identifier, scopes)| (identifier, scopes.into_boxed_slice()))
                        .collect(),
                )))
            })
            .await
    }

    /// Forgets `tenant`'s resource servers (after a change on this instance).
    pub fn invalidate(&self, tenant: Uuid) {
        self.cache.invalidate(&tenant);
    }
}
