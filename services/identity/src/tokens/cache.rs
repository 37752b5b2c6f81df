//! The credential cache of the token endpoint.
//!
//! A looked-up client (with its agent's status and capabilities and its tenant's status) is
//! trusted for `CREDENTIAL_CACHE_TTL_MS` (at most 900 ms), so another instance sees a
//! revocation, rotation or suspension within a second; the instance that makes the change
//! drops the entry at once. Lookups of one id that miss together share one query.
//!
//! Unknown client ids are cached too, so repeats of a bad id do not reach PostgreSQL, but
//! within bounds: at most [`UNKNOWN_CAPACITY`] of them (by default), each for the same
//! lifetime, and every expired one is dropped at the first miss after a lifetime. Only ids
//! of the issued form get here (`super::request::is_client_id`), so an entry is small.
//!
//! A lookup whose future is dropped (the client went away, a timeout) hands its id back:
//! the next lookup of that client queries again instead of waiting for an answer that
//! never comes.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use platform::ApiError;
use platform::db::Db;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::repo::clients::{self, TokenClientRow};

const SHARDS: usize = 16;

/// Unknown client ids kept at most, by default (a few MiB at most).
pub const UNKNOWN_CAPACITY: usize = 16_384;

/// Known clients of a shard beyond which expired ones are dropped.
const KNOWN_SWEEP_AT: usize = 100_000;

enum Slot {
    Ready {
        loaded: Instant,
        row: Arc<TokenClientRow>,
    },
    Loading(Arc<Notify>),
}

#[derive(Default)]
struct Shard {
    /// Known clients, and ids being looked up.
    slots: HashMap<String, Slot>,
    /// Unknown ids and when they were found unknown.
    unknown: HashMap<String, Instant>,
}

/// How many entries the cache holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheSizes {
    /// Known clients (fresh or not).
    pub clients: usize,
    /// Unknown client ids.
    pub unknown: usize,
    /// Lookups under way.
    pub loading: usize,
}

/// What a look at the cache found.
enum Found {
    Answer(Option<Arc<TokenClientRow>>),
    /// Another lookup of this id is under way.
    Wait(Arc<Notify>),
    /// This caller looks the id up; the slot holds this notifier until it is done.
    Claimed(Arc<Notify>),
}

/// The cache; cheap to clone.
#[derive(Clone)]
pub struct CredentialCache {
    shards: Arc<[Mutex<Shard>; SHARDS]>,
    hasher: std::collections::hash_map::RandomState,
    /// Bumped by every invalidation; a load that saw it move does not cache its result.
    epoch: Arc<AtomicU64>,
    ttl: Duration,
    unknown_per_shard: usize,
    /// When unknown ids were last swept, in ms since `started`.
    swept: Arc<AtomicU64>,
    started: Instant,
    db: Db,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("ttl", &self.ttl)
            .field("unknown_capacity", &(self.unknown_per_shard * SHARDS))
            .finish()
    }
}

/// Hands a claimed id back when its lookup ends without an answer (cancelled or failed),
/// waking whoever waits for it.
struct Claim<'a> {
    cache: &'a CredentialCache,
    client_id: &'a str,
    notify: Arc<Notify>,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut shard = self.cache.lock(self.client_id);
        if let Some(Slot::Loading(n)) = shard.slots.get(self.client_id)
            && Arc::ptr_eq(n, &self.notify)
        {
            shard.slots.remove(self.client_id);
        }
        self.notify.notify_waiters();
    }
}

impl CredentialCache {
    /// A cache over `db` trusting entries for `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        Self {
            shards: Arc::new(std::array::from_fn(|_| Mutex::new(Shard::default()))),
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: Arc::new(AtomicU64::new(0)),
            ttl,
            unknown_per_shard: UNKNOWN_CAPACITY / SHARDS,
            swept: Arc::new(AtomicU64::new(0)),
            started: Instant::now(),
            db,
        }
    }

    /// This cache keeping at most about `n` unknown ids (rounded up to a multiple of its
    /// shard count).
    #[must_use]
    pub fn with_unknown_capacity(mut self, n: usize) -> Self {
        self.unknown_per_shard = n.div_ceil(SHARDS).max(1);
        self
    }

    fn lock(&self, client_id: &str) -> MutexGuard<'_, Shard> {
        let m = &self.shards[(self.hasher.hash_one(client_id) as usize) % SHARDS];
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The client with this id, from the cache when fresh, else from PostgreSQL.
    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<TokenClientRow>>, ApiError> {
        loop {
            match self.find(client_id) {
                Found::Answer(row) => return Ok(row),
                Found::Claimed(notify) => return self.load(client_id, notify).await,
                Found::Wait(notify) => {
                    // Another request is loading this id: wait for it (bounded), then look
                    // again. The waiter is registered before the second look, so an answer
                    // arriving in between is not missed.
                    let notified = notify.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if self.is_loading(client_id, &notify) {
                        let _ = tokio::time::timeout(Duration::from_millis(250), notified).await;
                    }
                }
            }
        }
    }

    fn find(&self, client_id: &str) -> Found {
        let mut shard = self.lock(client_id);
        match shard.slots.get(client_id) {
            Some(Slot::Ready { loaded, row }) if loaded.elapsed() < self.ttl => {
                return Found::Answer(Some(row.clone()));
            }
            Some(Slot::Loading(n)) => return Found::Wait(n.clone()),
            _ => {}
        }
        if shard
            .unknown
            .get(client_id)
            .is_some_and(|t| t.elapsed() < self.ttl)
        {
            return Found::Answer(None);
        }
        let notify = Arc::new(Notify::new());
        shard
            .slots
            .insert(client_id.to_owned(), Slot::Loading(notify.clone()));
        Found::Claimed(notify)
    }

    fn is_loading(&self, client_id: &str, notify: &Arc<Notify>) -> bool {
        matches!(self.lock(client_id).slots.get(client_id), Some(Slot::Loading(n)) if Arc::ptr_eq(n, notify))
    }

    async fn load(
        &self,
        client_id: &str,
        notify: Arc<Notify>,
    ) -> Result<Option<Arc<TokenClientRow>>, ApiError> {
        let claim = Claim {
            cache: self,
            client_id,
            notify,
        };
        let epoch = self.epoch.load(Ordering::Acquire);
        let c = self.db.get().await?;
        let row = clients::lookup(&c, client_id).await?.map(Arc::new);
        drop(c);
        if self.epoch.load(Ordering::Acquire) == epoch {
            self.store(&claim, row.clone());
        }
        // Dropping the claim hands the slot back (when `store` did not fill it) and wakes
        // the waiters.
        drop(claim);
        if row.is_none() {
            self.sweep_unknown();
        }
        Ok(row)
    }

    /// Caches the answer of a claimed lookup, if the claim still holds the id's slot.
    fn store(&self, claim: &Claim<'_>, row: Option<Arc<TokenClientRow>>) {
        let client_id = claim.client_id;
        let mut shard = self.lock(client_id);
        let ours = matches!(shard.slots.get(client_id), Some(Slot::Loading(n)) if Arc::ptr_eq(n, &claim.notify));
        if !ours {
            return;
        }
        let now = Instant::now();
        match row {
            Some(row) => {
                shard
                    .slots
                    .insert(client_id.to_owned(), Slot::Ready { loaded: now, row });
                if shard.slots.len() > KNOWN_SWEEP_AT {
                    let ttl = self.ttl;
                    shard.slots.retain(|_, s| match s {
                        Slot::Ready { loaded, .. } => now.duration_since(*loaded) < ttl,
                        Slot::Loading(_) => true,
                    });
                }
            }
            None => {
                shard.slots.remove(client_id);
                if shard.unknown.len() >= self.unknown_per_shard {
                    let ttl = self.ttl;
                    shard.unknown.retain(|_, t| now.duration_since(*t) < ttl);
                }
                if shard.unknown.len() < self.unknown_per_shard {
                    shard.unknown.insert(client_id.to_owned(), now);
                }
            }
        }
    }

    /// Drops every expired unknown id, at most once per lifetime.
    fn sweep_unknown(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.swept.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= self.ttl.as_millis() as u64;
        if !due
            || self
                .swept
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let ttl = self.ttl;
        for mut shard in self.shards() {
            shard.unknown.retain(|_, t| t.elapsed() < ttl);
        }
    }

    /// How many entries the cache holds.
    pub fn sizes(&self) -> CacheSizes {
        let mut sizes = CacheSizes::default();
        for shard in self.shards() {
            sizes.unknown += shard.unknown.len();
            for slot in shard.slots.values() {
                match slot {
                    Slot::Ready { .. } => sizes.clients += 1,
                    Slot::Loading(_) => sizes.loading += 1,
                }
            }
        }
        sizes
    }

    /// Whether this client is cached and fresh (no lookup would reach PostgreSQL).
    pub fn is_fresh(&self, client_id: &str) -> bool {
        let shard = self.lock(client_id);
        matches!(shard.slots.get(client_id), Some(Slot::Ready { loaded, .. }) if loaded.elapsed() < self.ttl)
            || shard
                .unknown
                .get(client_id)
                .is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// Whether this instance has looked this client up before and found it (its entry may
    /// have expired): such a client is known, not one of a flood of random ids.
    pub fn has_seen(&self, client_id: &str) -> bool {
        matches!(
            self.lock(client_id).slots.get(client_id),
            Some(Slot::Ready { .. })
        )
    }

    /// The tenant of a client seen before, without a lookup (a client never changes tenant, so
    /// an expired entry still answers): lets the token endpoint check the tenant's quota
    /// alongside its rate limits.
    pub fn peek_tenant(&self, client_id: &str) -> Option<Uuid> {
        match self.lock(client_id).slots.get(client_id) {
            Some(Slot::Ready { row, .. }) => row.tenant_id,
            _ => None,
        }
    }

    /// Drops one client's entry (after a rotation or revocation on this instance).
    pub fn invalidate_client(&self, client_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut shard = self.lock(client_id);
        if matches!(shard.slots.get(client_id), Some(Slot::Ready { .. })) {
            shard.slots.remove(client_id);
        }
        shard.unknown.remove(client_id);
    }

    /// Drops every entry of an agent (after a suspension, reactivation or decommission).
    pub fn invalidate_agent(&self, agent: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for mut shard in self.shards() {
            shard.slots.retain(|_, s| match s {
                Slot::Ready { row, .. } => row.agent_id != Some(agent),
                Slot::Loading(_) => true,
            });
        }
    }

    /// Drops every entry of a tenant.
    pub fn invalidate_tenant(&self, tenant: Uuid) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for mut shard in self.shards() {
            shard.slots.retain(|_, s| match s {
                Slot::Ready { row, .. } => row.tenant_id != Some(tenant),
                Slot::Loading(_) => true,
            });
        }
    }
}
