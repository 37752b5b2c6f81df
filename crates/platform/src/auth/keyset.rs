//! [`KeySet`]: a JSON Web Key Set fetched from a [`JwksSource`] and kept in memory: fetched
//! again when asked for an unknown `kid` or once older than its time to live, at most once
//! a second; while the source cannot be read, the last set is kept.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

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

    /// The keys a JWT naming `kid` may be signed with: that key, or every key of the set
    /// when the JWT names none.
    pub async fn candidates(&self, kid: Option<&str>) -> Vec<Arc<KeyEntry>> {
        match kid {
            Some(kid) => self.key(kid).await.into_iter().collect(),
            None => self.all().await,
        }
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

/// Why no candidate key verified a JWT (see [`verify_jwt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// No key: none named by `kid`, or an empty set.
    UnknownKey,
    /// No candidate key is of the algorithm the JWT names.
    AlgorithmNotOfKey,
    /// Signed by a key of the set, expired.
    Expired,
    /// Signed by a key of the set, not yet valid (`nbf`).
    NotYetValid,
    /// Signed by a key of the set, another issuer.
    Issuer,
    /// Signed by a key of the set, without a required claim.
    MissingClaim,
    /// No candidate key's signature.
    BadSignature,
    /// Otherwise malformed.
    Invalid,
}

impl Rejected {
    /// A short reason, for audit logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown_key",
            Self::AlgorithmNotOfKey => "algorithm_not_of_key",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Issuer => "issuer",
            Self::MissingClaim => "missing_claim",
            Self::BadSignature => "bad_signature",
            Self::Invalid => "invalid_token",
        }
    }
}

/// The claims of `jwt`, whose header names `alg`, verified by the first of `candidates` of
/// that algorithm (the algorithm is the key's: `none`, HMAC or any other is refused), with
/// the validation `configure` sets up (issuer, required claims, leeway). A claim problem of
/// a correctly signed JWT ends the search at once.
pub fn verify_jwt(
    jwt: &str,
    alg: Algorithm,
    candidates: &[Arc<KeyEntry>],
    configure: impl Fn(&mut Validation),
) -> Result<Map<String, Value>, Rejected> {
    use jsonwebtoken::errors::ErrorKind;
    if candidates.is_empty() {
        return Err(Rejected::UnknownKey);
    }
    let mut rejected = Rejected::AlgorithmNotOfKey;
    for entry in candidates.iter().filter(|e| e.alg == alg) {
        let mut v = Validation::new(entry.alg);
        configure(&mut v);
        match jsonwebtoken::decode::<Map<String, Value>>(jwt, &entry.key, &v) {
            Ok(data) => return Ok(data.claims),
            Err(e) => {
                rejected = match e.kind() {
                    ErrorKind::ExpiredSignature => return Err(Rejected::Expired),
                    ErrorKind::ImmatureSignature => return Err(Rejected::NotYetValid),
                    ErrorKind::InvalidIssuer => return Err(Rejected::Issuer),
                    ErrorKind::MissingRequiredClaim(_) => return Err(Rejected::MissingClaim),
                    ErrorKind::InvalidSignature => Rejected::BadSignature,
                    _ => Rejected::Invalid,
                };
            }
        }
    }
    Err(rejected)
}
