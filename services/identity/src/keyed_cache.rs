//! A small per-key cache of values read from PostgreSQL, trusted for a fixed lifetime: a
//! burst of lookups of one key costs one query per lifetime (lookups that miss together
//! share it; one whose future is dropped leaves the query to the next), another instance's
//! change is seen within the lifetime, and this instance's own changes drop the key at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// Keys kept beyond which expired entries are dropped.
const SWEEP_AT: usize = 10_000;

struct Entry<V> {
    created: Instant,
    value: OnceCell<V>,
}

/// The cache; cheap to clone.
pub struct KeyedCache<K, V> {
    entries: Arc<Mutex<HashMap<K, Arc<Entry<V>>>>>,
    ttl: Duration,
}

impl<K, V> Clone for KeyedCache<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            ttl: self.ttl,
        }
    }
}

impl<K, V> std::fmt::Debug for KeyedCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedCache")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> KeyedCache<K, V> {
    /// A cache trusting what it read for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Arc::default(),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<Entry<V>>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn entry(&self, key: &K) -> Arc<Entry<V>> {
        let mut map = self.lock();
        if let Some(e) = map.get(key)
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
            value: OnceCell::new(),
        });
        map.insert(key.clone(), e.clone());
        e
    }

    /// The value of `key`: cached when fresh, else from `load`.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.entry(key).value.get_or_try_init(load).await.cloned()
    }

    /// Forgets `key` (after a change on this instance).
    pub fn invalidate(&self, key: &K) {
        self.lock().remove(key);
    }
}
