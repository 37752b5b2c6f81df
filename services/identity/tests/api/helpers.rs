//! Spawning identity under test, and a tenant with an agent ready to use.

use platform::config::Env;
use serde_json::{Value, json};
use testkit::identity::{Credential, IdentityClient, Tenant, agent_body};
use testkit::{TestApp, TestEnv};

/// A running identity instance and its client.
pub struct Identity {
    /// The application.
    pub app: TestApp<identity::State>,
    /// Its typed client.
    pub api: IdentityClient,
}

/// Builds and spawns identity with the test's environment plus `overrides`.
pub async fn spawn(env: &TestEnv, overrides: &[(&str, &str)]) -> Identity {
    spawn_env(with(env.env(), overrides)).await
}

/// Builds and spawns identity from a full environment.
pub async fn spawn_env(env: Env) -> Identity {
    let config = identity::Config::from_env(&env).expect("valid test configuration");
    let app = TestApp::spawn(identity::build(config).await.expect("identity builds"));
    let api = IdentityClient::new(&app.base_url);
    Identity { app, api }
}

/// `env` with `overrides` applied.
pub fn with(mut env: Env, overrides: &[(&str, &str)]) -> Env {
    for (k, v) in overrides {
        env.set(*k, *v);
    }
    env
}

/// A tenant, its admin token, one agent and one credential of it.
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

/// Signs up `name`, registers an agent with `agents:read` and makes it a credential.
pub async fn world(id: &Identity, name: &str) -> World {
    let tenant = id.api.signup(name).await.unwrap();
    let admin = id.api.admin_token(&tenant).await.unwrap();
    let agent = id
        .api
        .create_agent(&admin, &agent_body(&format!("{name} agent"), json!({})))
        .await
        .unwrap();
    let cred = id
        .api
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

/// The claims of a compact JWS, unverified.
pub fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Rows of a table in the test database matching a condition.
pub async fn count(env: &TestEnv, sql: &str) -> i64 {
    let c = env.db.client().await.unwrap();
    c.query_one(&format!("SELECT count(*) FROM {sql}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// An internal service token (scope `internal`) for a service client named `name`.
pub async fn service_token(id: &Identity, name: &str) -> String {
    let (client_id, secret) = identity::service_client(&id.app.state.config, name)
        .await
        .unwrap();
    let res = id
        .api
        .token_response(&client_id, &secret, &[("scope", "internal")])
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["access_token"].as_str().unwrap().to_owned()
}
