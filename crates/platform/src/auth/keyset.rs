//! [`KeySet`]: a JSON Web Key Set fetched from a [`JwksSource`] and kept in memory: fetched
//! again when asked for an unknown `kid` or once older than its time to live, at most once
//! a second; while the source cannot be read, the last set is kept.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey};

use super::jwks::{JwksSource, jwk_alg};

/// One usable key: the algorithm it verifies (taken from the key, never from a token) and
/// the key.
pub struct KeyEntry {
    /// The only algorithm this key verifies.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry").field("alg", &self.alg).finish()
    }
}

/// The key set as last fetched.
struct KeyMap {
    keys: HashMap<String, Arc<KeyEntry>>,
    /// Keys in the set's order (for tokens without a `kid`).
    ordered: Vec<Arc<KeyEntry>>,
    /// When it was fetched; `None` before the first fetch.
    fetched: Option<Instant>,
}

/// Refresh the key set at most this often when tokens name unknown keys.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// A cached key set; share it behind an `Arc`.
pub struct KeySet {
    keys: RwLock<KeyMap>,
    source: Arc<dyn JwksSource>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    ttl: Duration,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet").field("ttl", &self.ttl).finish()
    }
}

impl KeySet {
    /// Keys from `source`, trusted for `ttl` after each fetch.
    pub fn new(source: Arc<dyn JwksSource>, ttl: Duration) -> Self {
        Self {
            keys: RwLock::new(KeyMap {
                keys: HashMap::new(),
                ordered: Vec::new(),
                fetched: None,
            }),
            source,
            last_refresh: tokio::sync::Mutex::new(None),
            ttl,
        }
    }

    /// The same set trusting fetched keys for `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Trusts fetched keys for `ttl` from now on.
    pub fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyMap> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh(&self, map: &KeyMap) -> bool {
        map.fetched.is_some_and(|t| t.elapsed() < self.ttl)
    }

    /// The key named `kid`: from the set when it is fresh, else after fetching it again (at
    /// most once a second; a known key does not wait for another request's fetch).
    pub async fn key(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        let (entry, fresh) = {
            let map = self.read();
            (map.keys.get(kid).cloned(), self.fresh(&map))
        };
        match (entry, fresh) {
            (Some(entry), true) => return Some(entry),
            (Some(_), false) => self.refresh_if_idle().await,
            (None, _) => self.refresh().await,
        }
        self.read().keys.get(kid).cloned()
    }

    /// Every key of the set (for a token naming no `kid`), fetched first when the set is
    /// not fresh.
    pub async fn all(&self) -> Vec<Arc<KeyEntry>> {
        let fresh = self.fresh(&self.read());
        if !fresh {
            self.refresh().await;
        }
        self.read().ordered.clone()
    }

    /// Reloads the set (rate-limited to once per [`MIN_REFRESH_INTERVAL`]), waiting for a
    /// reload already under way.
    pub async fn refresh(&self) {
        let mut last = self.last_refresh.lock().await;
        self.reload(&mut last).await;
    }

    /// Reloads the key set unless a reload is under way (the caller then goes on with the
    /// key it has).
    async fn refresh_if_idle(&self) {
        if let Ok(mut last) = self.last_refresh.try_lock() {
            self.reload(&mut last).await;
        }
    }

    async fn reload(&self, last: &mut Option<Instant>) {
        if last.is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        match self.source.fetch().await {
            Ok(set) => {
                let mut keys = HashMap::new();
                let mut ordered = Vec::new();
                for jwk in &set.keys {
                    let Some(alg) = jwk_alg(jwk) else { continue };
                    let Ok(key) = DecodingKey::from_jwk(jwk) else {
                        continue;
                    };
                    let entry = Arc::new(KeyEntry { alg, key });
                    if let Some(kid) = jwk.common.key_id.clone() {
                        keys.insert(kid, entry.clone());
                    }
                    ordered.push(entry);
                }
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = KeyMap {
                    keys,
                    ordered,
                    fetched: Some(Instant::now()),
                };
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh a key set"),
        }
    }
}
