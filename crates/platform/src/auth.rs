//! Access-token verification for every service, and the extractors that put authorization
//! rules in handler signatures.
//!
//! Verification is local: the signature is checked against identity's JWKS (fetched once,
//! refreshed when a token names an unknown `kid`, at most once a second), then `iss`, `aud`,
//! `exp` and `nbf`, then revocation in Redis:
//! - `revoked:jti:<jti>`: that token;
//! - `revoked:sub:<sub>` = unix milliseconds: every token of that agent issued at or before
//!   it (suspension, decommissioning);
//! - `revoked:client:<client_id>` = unix milliseconds: every token of that credential issued
//!   at or before it (credential revoked);
//! - `revoked:_loaded`: present once identity has loaded every revocation from PostgreSQL.
//!
//! When Redis is unreachable or was emptied (no `_loaded` marker), the service's
//! [`RevocationFallback`] answers instead; without one the request is refused with 503.
//! Revocation is never skipped.
//!
//! Extractors: [`Authenticated`] (any valid token), [`RequireScope<S>`] (403 without the
//! scope), [`TenantId`] (the tenant of the token, never from a path or body). One request
//! verifies its token once, whatever the number of extractors. Each authenticated tenant
//! call is counted against the tenant's rate limit (the tier's requests per minute when
//! tiers are enforced), its daily API-call quota (`crate::quota`) and in metering.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use crate::errors::ApiError;
use crate::metering::{Metering, Metric};
use crate::quota::Quota;
use crate::rate_limit::{Action, Check, Limit, RateLimiter};
use crate::redis::{Redis, redis};

pub use domain::Scope;

/// A boxed future, for the object-safe traits below.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The `aud` claim: one string or several.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is among the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the agent id, or the client id of a tenant-admin or service client.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    #[serde(default)]
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// The tenant; absent for service tokens.
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
}

impl Claims {
    /// When the token was issued, in unix milliseconds: from the UUIDv7 `jti` identity puts in
    /// every token (signed, so it cannot be altered), else the start of the `iat` second.
    pub fn issued_at_ms(&self) -> i64 {
        Uuid::parse_str(&self.jti)
            .ok()
            .filter(|u| u.get_version_num() == 7)
            .and_then(|u| u.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(self.iat.saturating_mul(1000))
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        domain::scope::scope_string_has(&self.scope, scope)
    }
}

/// Where a verifier gets signing keys.
pub trait JwksSource: Send + Sync + 'static {
    /// The current key set.
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>>;
}

/// Fetches `<IDENTITY_URL>/.well-known/jwks.json`.
#[derive(Debug, Clone)]
pub struct HttpJwks {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl HttpJwks {
    /// A source reading `url` with `client`.
    pub fn new(url: reqwest::Url, client: reqwest::Client) -> Self {
        Self { url, client }
    }
}

impl JwksSource for HttpJwks {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        Box::pin(async move {
            let res = self.client.get(self.url.clone()).send().await?;
            anyhow::ensure!(res.status().is_success(), "JWKS answered {}", res.status());
            Ok(res.json::<JwkSet>().await?)
        })
    }
}

/// Answers revocation questions when Redis cannot.
pub trait RevocationFallback: Send + Sync + 'static {
    /// Whether the token described by `claims` is revoked.
    fn is_revoked<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, anyhow::Result<bool>>;
}

/// Identity's `POST /internal/v1/revocations/check`, for the services other than identity:
/// while Redis cannot answer, identity (which falls back on PostgreSQL) does, so a Redis
/// outage neither refuses every caller nor lets revoked tokens through.
#[derive(Debug, Clone)]
pub struct HttpRevocationFallback(pub crate::internal_http::InternalHttp);

impl RevocationFallback for HttpRevocationFallback {
    fn is_revoked<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            let query = domain::revocation::RevocationQuery {
                jti: claims.jti.clone(),
                sub: claims.sub.clone(),
                client_id: claims.client_id.clone(),
                issued_at_ms: claims.issued_at_ms(),
            };
            let answer: domain::revocation::RevocationAnswer = self
                .0
                .post_json(
                    self.0.identity("/internal/v1/revocations/check"),
                    &query,
                    true,
                )
                .await?;
            Ok(answer.revoked)
        })
    }
}

/// Redis keys of the revocation store (shared by identity, which writes them).
pub mod keys {
    use crate::redis::Redis;

    /// `revoked:jti:<jti>`.
    pub fn jti(redis: &Redis, jti: &str) -> String {
        redis.key("revoked", &format!("jti:{jti}"))
    }

    /// `revoked:sub:<sub>`.
    pub fn sub(redis: &Redis, sub: &str) -> String {
        redis.key("revoked", &format!("sub:{sub}"))
    }

    /// `revoked:client:<client_id>`.
    pub fn client(redis: &Redis, client_id: &str) -> String {
        redis.key("revoked", &format!("client:{client_id}"))
    }

    /// `revoked:_loaded`.
    pub fn loaded(redis: &Redis) -> String {
        redis.key("revoked", "_loaded")
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No or malformed `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// Signature, claims or key problem.
    #[error("{0}")]
    Invalid(String),
    /// The token was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// Revocation could not be checked.
    #[error("revocation status unavailable")]
    Unavailable,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable => ApiError::unavailable(
                "revocation_unavailable",
                "token revocation cannot be checked right now; try again shortly",
                1,
            ),
            other => ApiError::unauthorized(other.to_string()),
        }
    }
}

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

fn jwk_alg(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// What the extractors need, registered as app data by every service with management APIs.
#[derive(Clone)]
pub struct AuthContext {
    /// The verifier.
    pub verifier: Verifier,
    /// For the per-tenant limit.
    pub limiter: RateLimiter,
    /// For counting API calls.
    pub metering: Metering,
    /// The daily tier limits.
    pub quota: Quota,
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthContext")
            .field("verifier", &self.verifier)
            .finish()
    }
}

/// A request's verified token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Claims>);

fn bearer(req: &HttpRequest) -> Option<&str> {
    let v = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Authenticated {
    /// Verifies the request's bearer token once, applying the tenant limit and metering.
    /// Several extractors of one handler are polled side by side; they share one
    /// verification through a cell in the request's extensions.
    pub async fn from_req(req: &HttpRequest) -> Result<Self, ApiError> {
        let cell = {
            let existing = req
                .extensions()
                .get::<Rc<tokio::sync::OnceCell<Authenticated>>>()
                .cloned();
            match existing {
                Some(c) => c,
                None => {
                    let c = Rc::new(tokio::sync::OnceCell::new());
                    req.extensions_mut().insert(c.clone());
                    c
                }
            }
        };
        cell.get_or_try_init(|| Self::verify_request(req))
            .await
            .cloned()
    }

    async fn verify_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let ctx = req
            .app_data::<web::Data<AuthContext>>()
            .cloned()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AuthContext is not registered")))?;
        let token = bearer(req).ok_or(AuthError::Missing)?;
        let claims = Arc::new(ctx.verifier.verify(token).await?);
        if let Some(tenant) = claims.tenant_id {
            let subject = tenant.to_string();
            let mut check = Check::new(Action::Tenant, &subject);
            if ctx.quota.enforcing()
                && let Some(rpm) = ctx
                    .quota
                    .known_tier(tenant)
                    .and_then(|t| t.limits().requests_per_minute)
            {
                check.limit = Some(Limit {
                    max: rpm,
                    window: Duration::from_secs(60),
                });
            }
            let decision = ctx.limiter.check(&[check]).await;
            if !decision.allowed {
                return Err(decision.to_error());
            }
            if let Some(exceeded) = ctx.quota.consume(tenant, Metric::ApiCalls).await.exceeded {
                return Err(exceeded.to_error());
            }
            ctx.metering.add(tenant, Metric::ApiCalls, 1);
        }
        Ok(Self(claims))
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Self::from_req(&req).await })
    }
}

/// A scope required by a handler, as a type.
pub trait ScopeMarker: 'static {
    /// The scope.
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($name:ident => $scope:ident),+ $(,)?) => {
        /// Marker types for [`RequireScope`].
        pub mod scopes {
            use super::{Scope, ScopeMarker};
            $(
                #[doc = concat!("Requires `", stringify!($scope), "`.")]
                #[derive(Debug)]
                pub struct $name;
                impl ScopeMarker for $name {
                    const SCOPE: Scope = Scope::$scope;
                }
            )+
        }
    };
}

scope_markers!(
    AgentsRead => AgentsRead,
    AgentsWrite => AgentsWrite,
    TokensRead => TokensRead,
    AuditRead => AuditRead,
    WebhooksRead => WebhooksRead,
    WebhooksWrite => WebhooksWrite,
    BillingRead => BillingRead,
    BillingWrite => BillingWrite,
    AnalyticsRead => AnalyticsRead,
    ComplianceRead => ComplianceRead,
    AdminTenant => AdminTenant,
    Internal => Internal,
);

/// A verified token carrying scope `S`; 403 `insufficient_scope` otherwise.
#[derive(Debug)]
pub struct RequireScope<S: ScopeMarker>(pub Arc<Claims>, PhantomData<S>);

impl<S: ScopeMarker> RequireScope<S> {
    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.0
    }
}

impl<S: ScopeMarker> FromRequest for RequireScope<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Authenticated(claims) = Authenticated::from_req(&req).await?;
            if !claims.has_scope(S::SCOPE) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    format!("this operation requires the scope {}", S::SCOPE),
                )
                .with_header(
                    actix_web::http::header::WWW_AUTHENTICATE,
                    &format!(
                        "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                        S::SCOPE
                    ),
                ));
            }
            Ok(Self(claims, PhantomData))
        })
    }
}

/// The tenant of the request's token (never taken from a path or body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantId(pub Uuid);

impl FromRequest for TenantId {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Authenticated(claims) = Authenticated::from_req(&req).await?;
            claims.tenant_id.map(TenantId).ok_or_else(|| {
                ApiError::forbidden("tenant_required", "this operation needs a tenant's token")
            })
        })
    }
}
