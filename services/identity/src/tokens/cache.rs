//! The credential cache of the token endpoint.
//!
//! A looked-up client (with its agent's status and capabilities and its tenant's status) is
//! trusted for `CREDENTIAL_CACHE_TTL_MS` (at most 900 ms), so another instance sees a
//! revocation, rotation or suspension within a second; the instance that makes the change
//! drops the entry at once. Unknown client ids are cached too, so floods of bad ids do not
//! reach PostgreSQL. Lookups of one id that miss together share one query.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::ApiError;
use platform::db::Db;
use uuid::Uuid;

use crate::repo::clients::{self, TokenClientRow};

const SHARDS: usize = 16;

#[derive(Clone)]
enum Slot {
    Ready {
        loaded: Instant,
        row: Option<Arc<TokenClientRow>>,
    },
    Loading(Arc<tokio::sync::Notify>),
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct CredentialCache {
    shards: Arc<[Mutex<HashMap<String, Slot>>; SHARDS]>,
    hasher: std::collections::hash_map::RandomState,
    /// Bumped by every invalidation; a load that saw it move does not cache its result.
    epoch: Arc<AtomicU64>,
    ttl: Duration,
    db: Db,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl CredentialCache {
    /// A cache over `db` trusting entries for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            shards: Arc::new(std::array::from_fn(|_| Mutex::new(HashMap::new()))),
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: Arc::new(AtomicU64::new(0)),
            ttl,
            db,
        }
    }

    fn shard(&self, client_id: &str) -> &Mutex<HashMap<String, Slot>> {
        &self.shards[(self.hasher.hash_one(client_id) as usize) % SHARDS]
    }

    fn lock<'a>(
        m: &'a Mutex<HashMap<String, Slot>>,
    ) -> std::sync::MutexGuard<'a, HashMap<String, Slot>> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The client with this id, from the cache when fresh, else from PostgreSQL.
    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<TokenClientRow>>, ApiError> {
        loop {
            let wait = {
                let mut map = Self::lock(self.shard(client_id));
                match map.get(client_id) {
                    Some(Slot::Ready { loaded, row }) if loaded.elapsed() < self.ttl => {
                        return Ok(row.clone());
                    }
                    Some(Slot::Loading(n)) => Some(n.clone()),
                    _ => {
                        map.insert(
                            client_id.to_owned(),
                            Slot::Loading(Arc::new(tokio::sync::Notify::new())),
                        );
                        None
                    }
                }
            };
            match wait {
                Some(notify) => {
                    // Another request is loading this id; wait for it (bounded), then re-check.
                    let _ =
                        tokio::time::timeout(Duration::from_millis(250), notify.notified()).await;
                }
                None => return self.load(client_id).await,
            }
        }
    }

    async fn load(&self, client_id: &str) -> Result<Option<Arc<TokenClientRow>>, ApiError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let result = async {
            let c = self.db.get().await?;
            Ok::<_, ApiError>(clients::lookup(&c, client_id).await?.map(Arc::new))
        }
        .await;
        let mut map = Self::lock(self.shard(client_id));
        let invalidated = self.epoch.load(Ordering::Acquire) != epoch;
        let previous = match &result {
            Ok(row) if !invalidated => map.insert(
                client_id.to_owned(),
                Slot::Ready {
                    loaded: Instant::now(),
                    row: row.clone(),
                },
            ),
            _ => map.remove(client_id),
        };
        if let Some(Slot::Loading(n)) = previous {
            n.notify_waiters();
        }
        if map.len() > 100_000 {
            let ttl = self.ttl;
            map.retain(|_, s| {
                matches!(s, Slot::Loading(_))
                    || matches!(s, Slot::Ready { loaded, .. } if loaded.elapsed() < ttl)
            });
        }
        result
    }

    /// The tenant of a client seen before, without a lookup (a client never changes tenant, so
    /// an expired entry still answers): lets the token endpoint check the tenant's quota
    /// alongside its rate limits.
    pub fn peek_tenant(&self, client_id: &str) -> Option<Uuid> {
        match Self::lock(self.shard(client_id)).get(client_id) {
            Some(Slot::Ready { row: Some(row), .. }) => row.tenant_id,
            _ => None,
        }
    }

    /// Drops one client's entry (after a rotation or revocation on this instance).
    pub fn invalidate_client(&self, client_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Self::lock(self.shard(client_id)).remove(client_id);
    }

    /// Drops every entry of an agent (after a suspension, reactivation or decommission).
    pub fn invalidate_agent(&self, agent: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            Self::lock(shard).retain(|_, s| match s {
                Slot::Ready { row: Some(r), .. } => r.agent_id != Some(agent),
                _ => true,
            });
        }
    }

    /// Drops every entry of a tenant.
    pub fn invalidate_tenant(&self, tenant: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            Self::lock(shard).retain(|_, s| match s {
                Slot::Ready { row: Some(r), .. } => r.tenant_id != Some(tenant),
                _ => true,
            });
        }
    }
}
