//! Spawning the marketplace under test, alone or behind a real identity.

use std::time::Duration;

use platform::config::Env;
use serde_json::{Value, json};
use testkit::identity::{IdentityClient, Tenant, agent_body};
use testkit::{TestApp, TestEnv, TestResponse, eventually};

/// The bound every change must meet: listed or unlisted within 2 s.
pub const WITHIN: Duration = Duration::from_secs(2);

/// Builds and spawns a marketplace with the test's environment plus `overrides`.
pub async fn spawn(env: &TestEnv, overrides: &[(&str, &str)]) -> TestApp<marketplace::State> {
    spawn_env(with(env.env(), overrides)).await
}

/// A search-index directory of its own for one instance.
pub fn index_dir() -> String {
    let dir = std::env::temp_dir().join(format!(
        "agentidp-test-index-{}",
        uuid::Uuid::new_v4().simple()
    ));
    dir.to_string_lossy().into_owned()
}

/// Builds and spawns a marketplace from a full environment (with an index directory of its
/// own unless `MARKETPLACE_INDEX_DIR` names one).
pub async fn spawn_env(mut env: Env) -> TestApp<marketplace::State> {
    if env.get("MARKETPLACE_INDEX_DIR").is_none() {
        env.set("MARKETPLACE_INDEX_DIR", index_dir());
    }
    let config = marketplace::Config::from_env(&env).expect("valid test configuration");
    let app = marketplace::build(config)
        .await
        .expect("marketplace builds");
    TestApp::spawn(app)
}

/// `env` with `overrides` applied.
pub fn with(mut env: Env, overrides: &[(&str, &str)]) -> Env {
    for (k, v) in overrides {
        env.set(*k, *v);
    }
    env
}

/// identity and a marketplace following its change feed, on one test database (each in its
/// own schema).
pub struct Stack {
    pub env: TestEnv,
    pub identity: TestApp<identity::State>,
    pub api: IdentityClient,
    pub market: TestApp<marketplace::State>,
    client: (String, String),
}

/// Generous per-IP limits: tests poll.
const LIMITS: [(&str, &str); 1] = [("RATE_LIMIT_MAX_REQUESTS", "1000000")];

impl Stack {
    /// Starts identity, creates the marketplace's service client and starts a marketplace.
    pub async fn start(overrides: &[(&str, &str)]) -> Self {
        let env = TestEnv::new().await.unwrap();
        // Identity serves its feed and JWKS to the marketplace on its internal port, as
        // deployed (`INTERNAL_PORT`).
        let id_env = with(with(env.env(), &LIMITS), &[("INTERNAL_PORT", "0")]);
        let id_config = identity::Config::from_env(&id_env).unwrap();
        let client = identity::service_client(&id_config, "marketplace")
            .await
            .unwrap();
        let identity = TestApp::spawn(identity::build(id_config).await.unwrap());
        let api = IdentityClient::new(&identity.base_url);
        let market = spawn_env(market_env(&env, &identity, &client, overrides)).await;
        Self {
            env,
            identity,
            api,
            market,
            client,
        }
    }

    /// Another marketplace instance on the same database and feed.
    pub async fn another(&self, overrides: &[(&str, &str)]) -> TestApp<marketplace::State> {
        spawn_env(self.market_config(overrides)).await
    }

    /// The environment of a marketplace of this stack.
    pub fn market_config(&self, overrides: &[(&str, &str)]) -> Env {
        market_env(&self.env, &self.identity, &self.client, overrides)
    }

    /// Signs up a tenant named `name`.
    pub async fn publisher(&self, name: &str) -> Publisher {
        let tenant = self.api.signup(name).await.unwrap();
        let admin = self.api.admin_token(&tenant).await.unwrap();
        Publisher { tenant, admin }
    }

    /// Registers an agent named `name` with `overrides` of the test body; returns its id.
    pub async fn register(&self, p: &Publisher, name: &str, overrides: Value) -> String {
        let agent = self
            .api
            .create_agent(&p.admin, &agent_body(name, overrides))
            .await
            .unwrap();
        agent["id"].as_str().unwrap().to_owned()
    }

    /// `POST /api/v1/agents/{id}/<action>` (suspend, reactivate).
    pub async fn lifecycle(&self, p: &Publisher, id: &str, action: &str) {
        let res = self
            .api
            .post_empty(&format!("/api/v1/agents/{id}/{action}"), &p.admin)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{action}: {}", res.body);
    }

    /// `PATCH /api/v1/agents/{id}`.
    pub async fn patch(&self, p: &Publisher, id: &str, body: Value) {
        let res = self
            .api
            .patch(&format!("/api/v1/agents/{id}"), &p.admin, &body)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
    }

    /// Waits until the marketplace has applied every event identity has written so far, and
    /// its search index every listing.
    pub async fn caught_up(&self) {
        self.caught_up_feed().await;
        indexed(&self.env, &self.market).await;
    }

    /// Waits until the marketplace has applied every event identity has written so far.
    pub async fn caught_up_feed(&self) {
        let db = self.env.db.client().await.unwrap();
        let last: Option<(i64, i64)> = db
            .query_opt(
                "SELECT tx, feed_seq FROM identity.audit_events ORDER BY tx DESC, feed_seq DESC LIMIT 1",
                &[],
            )
            .await
            .unwrap()
            .map(|r| (r.get(0), r.get(1)));
        let Some(last) = last else { return };
        let reached = eventually(Duration::from_secs(20), || async {
            let row = db
                .query_opt(
                    "SELECT cursor FROM marketplace.feed_cursors WHERE consumer = 'marketplace'",
                    &[],
                )
                .await
                .ok()??;
            let cursor: domain::FeedCursor = row.get::<_, String>(0).parse().ok()?;
            (cursor
                >= domain::FeedCursor {
                    tx: last.0,
                    seq: last.1,
                })
            .then_some(())
        })
        .await;
        assert!(reached.is_some(), "the marketplace never caught up");
    }
}

fn market_env(
    env: &TestEnv,
    identity: &TestApp<identity::State>,
    client: &(String, String),
    overrides: &[(&str, &str)],
) -> Env {
    let base = with(
        env.env(),
        &[
            ("IDENTITY_URL", identity.internal_url.as_str()),
            ("SERVICE_CLIENT_ID", client.0.as_str()),
            ("SERVICE_CLIENT_SECRET", client.1.as_str()),
            ("MARKETPLACE_CACHE_POLL_MS", "50"),
        ],
    );
    with(with(base, &LIMITS), overrides)
}

/// A tenant and its admin token.
pub struct Publisher {
    pub tenant: Tenant,
    pub admin: String,
}

/// `GET /api/v1/marketplace/agents?<query>`, which must answer 200.
pub async fn search(app: &TestApp<marketplace::State>, query: &str) -> TestResponse {
    let res = app
        .client
        .get(&format!("/api/v1/marketplace/agents?{query}"))
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{query}: {}", res.body);
    res
}

/// The ids of a search response, in order.
pub fn ids(res: &TestResponse) -> Vec<String> {
    res.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits up to [`WITHIN`] until `id` is (`listed`) or is not among the results of `query`.
pub async fn shows(app: &TestApp<marketplace::State>, query: &str, id: &str, listed: bool) -> bool {
    eventually(WITHIN, || async {
        let res = app
            .client
            .get(&format!("/api/v1/marketplace/agents?{query}"))
            .await
            .ok()?;
        (res.status == 200 && ids(&res).iter().any(|i| i == id) == listed).then_some(())
    })
    .await
    .is_some()
}

/// An agent body with a description and tags of its own.
pub fn agent(description: &str, extra: Value) -> Value {
    let mut body = json!({ "description": description });
    if let (Some(b), Value::Object(o)) = (body.as_object_mut(), extra) {
        b.extend(o);
    }
    body
}

/// Waits until `app`'s search index reflects every listing written so far.
pub async fn indexed(env: &TestEnv, app: &TestApp<marketplace::State>) {
    let db = env.db.client().await.unwrap();
    let version: i64 = db
        .query_one("SELECT version FROM marketplace.listing_version", &[])
        .await
        .unwrap()
        .get(0);
    let reached = eventually(Duration::from_secs(20), || async {
        let body = app.client.get("/metrics").await.ok()?.body;
        let at = body
            .lines()
            .find(|l| l.starts_with("agentidp_marketplace_index_version"))
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0);
        (at >= version as f64).then_some(())
    })
    .await;
    assert!(reached.is_some(), "the search index never caught up");
}
