//! [`Verifier`]: signature, claims and revocation of an access token.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;

use super::claims::Claims;
use super::error::AuthError;
use super::jwks::JwksSource;
use super::keys;
use super::keyset::KeySet;
use super::revocation::RevocationFallback;
use crate::redis::{Redis, redis};

struct VerifierInner {
    /// Server nonces DPoP proofs must carry (`DPOP_NONCE_SECRET`), when required.
    nonces: Option<super::dpop::Nonces>,
    issuer: String,
    audience: String,
    keys: KeySet,
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
                keys: KeySet::new(source, KEY_CACHE_TTL),
                nonces: None,
                redis,
                fallback,
            }),
        }
    }

    /// The accepted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The same verifier trusting fetched keys for `ttl` instead of [`KEY_CACHE_TTL`]; call
    /// it before the verifier is cloned.
    pub fn with_key_ttl(mut self, ttl: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.keys.set_ttl(ttl);
        }
        self
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
            .inner
            .keys
            .key(&kid)
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

    /// The same verifier requiring DPoP proofs to carry nonces derived from `secret` (none:
    /// no nonces); call it before the verifier is cloned.
    pub fn with_dpop_nonces(mut self, secret: Option<&[u8]>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.nonces = secret.map(super::dpop::Nonces::new);
        }
        self
    }

    /// The server nonces DPoP proofs must carry, when required.
    pub fn dpop_nonces(&self) -> Option<&super::dpop::Nonces> {
        self.inner.nonces.as_ref()
    }

    /// Records the use of a DPoP proof's `jti` (for twice its accepted age, shared by every
    /// instance and service); `false` when it was used before.
    pub async fn first_use_of_proof(&self, jti: &str) -> Result<bool, AuthError> {
        let r = &self.inner.redis;
        let key = r.key(
            "once",
            &format!("dpop:{}", super::dpop::sha256_b64(jti.as_bytes())),
        );
        let ttl_ms = (2 * super::dpop::MAX_AGE_SECS + 60) * 1000;
        r.set_once(&key, ttl_ms).await.map_err(|e| {
            tracing::warn!(error = %e, "DPoP replay store unavailable");
            AuthError::Unavailable
        })
    }

    /// Whether `claims` names a revoked token: the token itself, or (cut-offs at or after
    /// its issue time) its agent or credential; for a delegated token also any subject
    /// token, grant, actor or subject token's credential of its chain.
    pub async fn is_revoked(&self, claims: &Claims) -> Result<bool, AuthError> {
        let r = &self.inner.redis;
        let subjects = claims.revocation_subjects();
        let mut keys = Vec::with_capacity(1 + subjects.jtis.len() + subjects.subs.len() * 2);
        keys.push(keys::loaded(r));
        keys.extend(subjects.jtis.iter().map(|j| keys::jti(r, j)));
        keys.extend(subjects.subs.iter().map(|s| keys::sub(r, s)));
        keys.extend(subjects.clients.iter().map(|c| keys::client(r, c)));
        let presence = subjects.jtis.len();
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
                let issued = claims.issued_at_ms();
                let (tokens, cut_offs) = v[1..].split_at(presence.min(v.len() - 1));
                Ok(tokens.iter().any(Option::is_some)
                    || cut_offs.iter().flatten().any(|t| issued <= *t))
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
