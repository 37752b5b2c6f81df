//! A minimal application of the platform alone, and a token issuer it trusts.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use platform::app::{Application, Core};
use platform::auth::scopes::{AgentsRead, AgentsWrite};
use platform::auth::{AuthContext, BoxFuture, JwksSource, RequireScope, TenantId, Verifier};
use platform::config::{ServiceKind, read_common};
use platform::redis::redis;
use serde_json::json;
use testkit::{TestApp, TestEnv};
use uuid::Uuid;

/// Issuer and audience of the test tokens (`PUBLIC_URL` of [`TestEnv::env`]).
pub const ISSUER: &str = "http://localhost:8080";
const KID: &str = "test-key";

/// Signs access tokens with an Ed25519 key and publishes it as a JWKS.
pub struct Issuer {
    key: Ed25519KeyPair,
    jwks: JwkSet,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issuer")
    }
}

impl Issuer {
    /// A new key pair, published under [`KID`].
    pub fn new() -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(key.public_key().as_ref());
        let jwks = serde_json::from_value(json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA", "use": "sig",
        }]}))
        .unwrap();
        Self { key, jwks }
    }

    /// The published key set.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The claims of an access token of `tenant` carrying the space-separated `scope`.
    pub fn claims(tenant: Uuid, scope: &str) -> serde_json::Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({
            "iss": ISSUER, "aud": ISSUER, "sub": Uuid::new_v4(), "client_id": "test-client",
            "jti": Uuid::now_v7(), "iat": now, "nbf": now, "exp": now + 300,
            "scope": scope, "tenant_id": tenant,
        })
    }

    /// `claims` signed under the JWS type `typ`.
    pub fn signed(&self, typ: &str, claims: &serde_json::Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": KID});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// An access token of `tenant` carrying the space-separated `scope`.
    pub fn token(&self, tenant: Uuid, scope: &str) -> String {
        self.signed("at+jwt", &Self::claims(tenant, scope))
    }
}

struct Keys(Arc<Issuer>);

impl JwksSource for Keys {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        let set = self.0.jwks.clone();
        Box::pin(async move { Ok(set) })
    }
}

/// The application's state: the issuer its verifier trusts.
pub type State = Arc<Issuer>;

async fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

async fn scoped(_: RequireScope<AgentsRead>, TenantId(tenant): TenantId) -> HttpResponse {
    HttpResponse::Ok().json(json!({"tenant": tenant}))
}

async fn tenant_only(TenantId(tenant): TenantId) -> HttpResponse {
    HttpResponse::Ok().json(json!({"tenant": tenant}))
}

async fn two_scopes(
    TenantId(tenant): TenantId,
    _: RequireScope<AgentsRead>,
    _: RequireScope<AgentsWrite>,
) -> HttpResponse {
    HttpResponse::Ok().json(json!({"tenant": tenant}))
}

/// A path every instance counts against the per-IP limit.
pub const LIMITED: &str = "/api/v1/things";

/// Builds and spawns the test application on the test's environment plus `overrides`:
/// - `GET /api/v1/things`: no authentication;
/// - `GET /api/v1/scoped`: `agents:read` and a tenant;
/// - `GET /api/v1/tenant`: any tenant token;
/// - `GET /api/v1/two-scopes`: `agents:read`, `agents:write` and a tenant.
pub async fn spawn(env: &TestEnv, overrides: &[(&str, &str)]) -> TestApp<State> {
    let config = read_common(&env.env_with(overrides), ServiceKind::Marketplace).unwrap();
    let core = Core::new(config).unwrap();
    let issuer = Arc::new(Issuer::new());
    let verifier = Verifier::new(
        ISSUER.to_owned(),
        ISSUER.to_owned(),
        Arc::new(Keys(issuer.clone())),
        core.redis.clone(),
        None,
    );
    let auth = web::Data::new(AuthContext {
        verifier,
        limiter: core.limiter.clone(),
        metering: core.metering.clone(),
        quota: core.quota.clone(),
    });
    let health = core.health();
    let app = Application::start(core, issuer, health, move |cfg| {
        cfg.app_data(auth.clone())
            .route(LIMITED, web::get().to(ok))
            .route("/api/v1/scoped", web::get().to(scoped))
            .route("/api/v1/tenant", web::get().to(tenant_only))
            .route("/api/v1/two-scopes", web::get().to(two_scopes));
    })
    .unwrap();
    TestApp::spawn(app)
}

/// Marks the revocations as loaded, as identity does at start (none here), so tokens can be
/// verified. Not done by [`spawn`]: an application that has not used Redis yet connects on
/// its first command, which tests of Redis outages rely on.
pub async fn revocations_loaded(app: &TestApp<State>) {
    set(app, &platform::auth::keys::loaded(&app.core.redis), "1").await;
}

/// `SET key value` on the application's Redis.
pub async fn set(app: &TestApp<State>, key: &str, value: &str) {
    let (key, value) = (key.to_owned(), value.to_owned());
    app.core
        .redis
        .run(|mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .query_async::<()>(&mut c)
                .await
        })
        .await
        .unwrap();
}

/// `ratelimit-remaining` of a response.
pub fn remaining(res: &testkit::TestResponse) -> Option<u64> {
    res.header("ratelimit-remaining")
        .and_then(|v| v.parse().ok())
}
