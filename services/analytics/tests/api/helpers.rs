//! Spawning analytics (with a real identity when a test needs the feed) and feeding the
//! projection events of a chosen time.

use std::collections::BTreeMap;
use std::time::Duration;

use analytics::projection;
use domain::{FeedCursor, FeedEvent};
use platform::config::Env;
use serde_json::{Value, json};
use testkit::identity::{Credential, IdentityClient, Tenant, agent_body};
use testkit::{TestApp, TestEnv, eventually};
use time::OffsetDateTime;
use uuid::Uuid;

/// `env` with `overrides` applied.
pub fn with(mut env: Env, overrides: &[(&str, &str)]) -> Env {
    for (k, v) in overrides {
        env.set(*k, *v);
    }
    env
}

/// A running identity and analytics on one test database.
pub struct Stack {
    /// Identity (kept running for the test's duration).
    pub _identity: TestApp<identity::State>,
    /// Identity's API.
    pub api: IdentityClient,
    /// Analytics.
    pub analytics: TestApp<analytics::State>,
}

/// Identity, then analytics with its service client, reading identity's feed on identity's
/// internal port (`INTERNAL_PORT`), as deployed.
pub async fn stack(env: &TestEnv, overrides: &[(&str, &str)]) -> Stack {
    let config = identity::Config::from_env(&env.env_with(&[("INTERNAL_PORT", "0")]))
        .expect("identity configuration");
    let identity = TestApp::spawn(identity::build(config).await.expect("identity builds"));
    let (client_id, secret) = identity::service_client(&identity.state.config, "analytics")
        .await
        .unwrap();
    let mut vars = vec![
        ("IDENTITY_URL", identity.internal_url.as_str()),
        ("SERVICE_CLIENT_ID", client_id.as_str()),
        ("SERVICE_CLIENT_SECRET", secret.as_str()),
    ];
    vars.extend_from_slice(overrides);
    let analytics = spawn_env(with(env.env(), &vars)).await;
    let api = IdentityClient::new(&identity.base_url);
    Stack {
        _identity: identity,
        api,
        analytics,
    }
}

/// Analytics alone (no identity: its feed consumer and the projection are driven by hand).
pub async fn analytics_only(
    env: &TestEnv,
    overrides: &[(&str, &str)],
) -> TestApp<analytics::State> {
    let mut vars = vec![
        ("IDENTITY_URL", "http://127.0.0.1:9"),
        ("ANALYTICS_ENABLED", "false"),
        ("COMPLIANCE_ENABLED", "false"),
    ];
    vars.extend_from_slice(overrides);
    spawn_env(with(env.env(), &vars)).await
}

/// Builds and spawns analytics from a full environment.
pub async fn spawn_env(env: Env) -> TestApp<analytics::State> {
    let config = analytics::Config::from_env(&env).expect("valid test configuration");
    TestApp::spawn(analytics::build(config).await.expect("analytics builds"))
}

/// A tenant with its admin token and one agent with a credential.
pub struct World {
    pub tenant: Tenant,
    pub admin: String,
    pub agent: Value,
    pub cred: Credential,
}

impl World {
    /// The agent's id.
    pub fn agent_id(&self) -> &str {
        self.agent["id"].as_str().unwrap()
    }
}

/// Signs up `name` with one agent and one credential.
pub async fn world(api: &IdentityClient, name: &str) -> World {
    let tenant = api.signup(name).await.unwrap();
    let admin = api.admin_token(&tenant).await.unwrap();
    let agent = api
        .create_agent(&admin, &agent_body(&format!("{name} agent"), json!({})))
        .await
        .unwrap();
    let cred = api
        .create_credential(&admin, agent["id"].as_str().unwrap(), &json!({}))
        .await
        .unwrap();
    World {
        tenant,
        admin,
        agent,
        cred,
    }
}

/// Applies `events` through the service's projection in one transaction, as the feed
/// consumer does.
pub async fn apply(app: &TestApp<analytics::State>, events: &[FeedEvent]) {
    let mut c = app.core.db.pool().get().await.unwrap();
    let tx = c.transaction().await.unwrap();
    projection::apply(&tx, events).await.unwrap();
    tx.commit().await.unwrap();
}

/// A synthetic event at `at`; cursors increase with `seq`.
pub fn event(
    tenant: Uuid,
    seq: i64,
    action: &str,
    at: OffsetDateTime,
    details: Value,
) -> FeedEvent {
    FeedEvent {
        cursor: FeedCursor { tx: 1, seq },
        id: Uuid::new_v4(),
        tenant_id: tenant,
        actor: "client:test".into(),
        action: action.into(),
        outcome: if action == "token.refused" {
            "failure"
        } else {
            "success"
        }
        .into(),
        target: None,
        details,
        occurred_at: at,
    }
}

/// Sums of the tenant's daily rollups per metric.
pub async fn rollup_totals(env: &TestEnv, tenant: &str) -> BTreeMap<String, i64> {
    let c = env.db.client().await.unwrap();
    let rows = c
        .query(
            "SELECT metric, SUM(count)::int8 FROM analytics.rollups
              WHERE tenant_id = $1::text::uuid AND granularity = 'day' GROUP BY metric",
            &[&tenant],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Raw counts of identity's audit events of the tenant per counted action.
pub async fn raw_counts(env: &TestEnv, tenant: &str) -> BTreeMap<String, i64> {
    let c = env.db.client().await.unwrap();
    let rows = c
        .query(
            "SELECT action, SUM(CASE WHEN action = 'token.refused'
                                     THEN COALESCE((details->>'count')::int8, 1) ELSE 1 END)::int8
               FROM identity.audit_events
              WHERE tenant_id = $1::text::uuid AND action = ANY($2)
                AND (outcome = 'success' OR action = 'token.refused')
              GROUP BY action",
            &[&tenant, &analytics::rollup::METRICS.to_vec()],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// Waits until the tenant's rollups equal the raw event counts; returns them.
pub async fn caught_up(env: &TestEnv, tenant: &str) -> BTreeMap<String, i64> {
    let raw = raw_counts(env, tenant).await;
    let seen = eventually(Duration::from_secs(30), || async {
        let r = rollup_totals(env, tenant).await;
        (r == raw).then_some(r)
    })
    .await;
    seen.unwrap_or_else(|| panic!("rollups never matched the raw counts {raw:?}"))
}
