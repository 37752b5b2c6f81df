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

struct VerifierInner {
    issuer: String,
    audience: String,
    keys: RwLock<HashMap<String, Arc<KeyEntry>>>,
    source: Arc<dyn JwksSource>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    redis: Redis,
    fallback: Option<Arc<dyn RevocationFallback>>,
}

/// Verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
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
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

impl Verifier {
    /// A verifier accepting tokens of `issuer` for `audience`.
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
                keys: RwLock::new(HashMap::new()),
                source,
                last_refresh: tokio::sync::Mutex::new(None),
                redis,
                fallback,
            }),
        }
    }

    /// The accepted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    fn key(&self, kid: &str) -> Option<Arc<KeyEntry>> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// Reloads the key set (rate-limited to once per [`MIN_REFRESH_INTERVAL`]).
    async fn refresh(&self) {
        let mut last = self.inner.last_refresh.lock().await;
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
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = map;
            }
            Err(e) => tracing::warn!(error = %e, "could not refresh the signing keys"),
        }
    }

    /// Checks signature and claims, without revocation (introspection and revocation use
    /// this to learn what a token is).
    pub async fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::Invalid("malformed token".into()))?;
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("token has no kid".into()))?;
        let entry = match self.key(&kid) {
            Some(e) => e,
            None => {
                self.refresh().await;
                self.key(&kid)
                    .ok_or_else(|| AuthError::Invalid("token signed by an unknown key".into()))?
            }
        };
        let mut v = Validation::new(entry.alg);
        v.set_issuer(&[&self.inner.issuer]);
        v.set_audience(&[&self.inner.audience]);
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        jsonwebtoken::decode::<Claims>(token, &entry.key, &v)
            .map(|d| d.claims)
            .map_err(|e| AuthError::Invalid(format!("invalid token: {e}")))
    }

    /// Full verification: [`Verifier::decode`] plus revocation.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token).await?;
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
