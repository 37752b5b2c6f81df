//! [`Verifier`]: signature, claims and revocation of an access token.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::claims::Claims;
use super::error::AuthError;
use super::jwks::{JwksSource, jwk_alg};
use super::keys;
use super::revocation::RevocationFallback;
use crate::redis::{Redis, redis};

struct KeyEntry {
    alg: Algorithm,
    key: DecodingKey,
}

/// The key set as last fetched.
struct KeyMap {
    keys: HashMap<String, Arc<KeyEntry>>,
    /// When it was fetched; `None` before the first fetch.
    fetched: Option<Instant>,
}

struct VerifierInner {
    issuer: String,
    audience: String,
    keys: RwLock<KeyMap>,
    source: Arc<dyn JwksSource>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    redis: Redis,
    fallback: Option<Arc<dyn RevocationFallback>>,
}

/// Verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
    /// How long a fetched key set is trusted without fetching it again.
    key_ttl: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .finish()
    }
}

/// Refresh the key set at most this often when tokens name unknown keys.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// How long a fetched key set is trusted: a key removed from the JWKS stops verifying at most
/// this long after its removal (plus one fetch), without a restart.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(600);
/// The JWS `typ` of access tokens (RFC 9068 §2.1); `application/at+jwt` is the same type.
const ACCESS_TOKEN_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

impl Verifier {
    /// A verifier accepting access tokens of `issuer` whose only audience is `audience`,
    /// trusting fetched keys for [`KEY_CACHE_TTL`].
    pub fn new(
        issuer: String,
        audience: String,
        source: Arc<dyn JwksSource>,
        redis: Redis,
        fallback: Option<Arc<dyn RevocationFallback>>,
    ) -> Self {
        Self {
            inner: Arc::new(VerifierInner {
                issuer,
                audience,
                keys: RwLock::new(KeyMap {
                    keys: HashMap::new(),
                    fetched: None,
                }),
                source,
                last_refresh: tokio::sync::Mutex::new(None),
                redis,
                fallback,
            }),
            key_ttl: KEY_CACHE_TTL,
        }
    }

    /// The accepted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The same verifier trusting fetched keys for `ttl` instead of [`KEY_CACHE_TTL`].
    pub fn with_key_ttl(mut self, ttl: Duration) -> Self {
        self.key_ttl = ttl;
        self
    }

    /// The key named `kid`, and whether the set it comes from is still fresh.
    fn key(&self, kid: &str) -> (Option<Arc<KeyEntry>>, bool) {
        let map = self
            .inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = map.fetched.is_some_and(|t| t.elapsed() < self.key_ttl);
        (map.keys.get(kid).cloned(), fresh)
    }

    /// The key named `kid`: from the key set when it is fresh, else after fetching it again
    /// (at most once a second; a known key does not wait for another request's fetch).
    /// While the source cannot be read, the last set is kept.
    async fn key_for(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        match self.key(kid) {
            (Some(entry), true) => return Some(entry),
            (Some(_), false) => self.refresh_if_idle().await,
            (None, _) => self.refresh().await,
        }
        self.key(kid).0
    }

    /// Reloads the key set (rate-limited to once per [`MIN_REFRESH_INTERVAL`]), waiting for
    /// a reload already under way.
    async fn refresh(&self) {
        let mut last = self.inner.last_refresh.lock().await;
        self.reload(&mut last).await;
    }

    /// Reloads the key set unless a reload is under way (the caller then goes on with the
    /// key it has).
    async fn refresh_if_idle(&self) {
        if let Ok(mut last) = self.inner.last_refresh.try_lock() {
            self.reload(&mut last).await;
        }
    }

    async fn reload(&self, last: &mut Option<Instant>) {
        if last.is_some_and(|t| t.elapsed() < MIN_REFRESH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        match self.inner.source.fetch().await {
            Ok(set) => {
                let mut map = HashMap::new();
                for jwk in &set.keys {
                    let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), jwk_alg(jwk)) else {
                        continue;
                    };
                    if let Ok(key) = DecodingKey::from_jwk(jwk) {
                        map.insert(kid, Arc::new(KeyEntry { alg, key }));
                    }
                }
                *self
                    .inner
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = KeyMap {
                    keys: map,
                    fetched: Some(Instant::now()),
                };
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh the signing keys"),
        }
    }

    /// Checks that `token` is an access token (`typ: at+jwt`) of the issuer, signed by a
    /// published key and within its lifetime, for any audience; no revocation. Introspection
    /// and revocation use this to learn what a token is; it authorizes nothing (see
    /// [`Verifier::verify`]).
    pub async fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("malformed token".into()))?;
        let typ = header.typ.as_deref().unwrap_or("");
        if !ACCESS_TOKEN_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(AuthError::Invalid("not an access token (typ)".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("token has no kid".into()))?;
        let entry = self
            .key_for(&kid)
            .await
            .ok_or_else(|| AuthError::Invalid("token signed by an unknown key".into()))?;
        let mut v = Validation::new(entry.alg);
        v.set_issuer(&[&self.inner.issuer]);
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        jsonwebtoken::decode::<Claims>(token, &entry.key, &v)
            .map(|d| d.claims)
            .map_err(|e| AuthError::Invalid(format!("invalid token: {e}")))
    }

    /// Full verification of a bearer token: [`Verifier::decode`], an audience that is this
    /// verifier's alone (a token for a resource server, or for it and others, is refused),
    /// and revocation.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token).await?;
        if !claims.aud.is_only(&self.inner.audience) {
            return Err(AuthError::Invalid(
                "invalid token: the token is not for this API (aud)".into(),
            ));
        }
        if self.is_revoked(&claims).await? {
            return Err(AuthError::Revoked);
        }
        Ok(claims)
    }

    /// Whether `claims` names a revoked token.
    pub async fn is_revoked(&self, claims: &Claims) -> Result<bool, AuthError> {
        let r = &self.inner.redis;
        let keys = [
            keys::loaded(r),
            keys::jti(r, &claims.jti),
            keys::sub(r, &claims.sub),
            keys::client(r, &claims.client_id),
        ];
        let answer = r
            .run(|mut c| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<i64>>>(&mut c)
                    .await
            })
            .await;
        match answer {
            Ok(v) if v.first().is_some_and(Option::is_some) => {
                let jti = v.get(1).copied().flatten().is_some();
                let issued = claims.issued_at_ms();
                let before = |i: usize| v.get(i).copied().flatten().is_some_and(|t| issued <= t);
                Ok(jti || before(2) || before(3))
            }
            _ => match &self.inner.fallback {
                Some(f) => f.is_revoked(claims).await.map_err(|e| {
                    tracing::warn!(error = %e, "revocation fallback failed");
                    AuthError::Unavailable
                }),
                None => Err(AuthError::Unavailable),
            },
        }
    }
}
