//! Spawning billing with identity and a fake Stripe, and driving them.

use platform::config::Env;
use platform::metering::Metric;
use platform::redis::redis;
use serde_json::{Value, json};
use testkit::identity::{IdentityClient, Tenant};
use testkit::stripe::{self, FakeStripe};
use testkit::{Client, TestApp, TestEnv, TestResponse, free_port};
use uuid::Uuid;

pub const STRIPE_KEY: &str = "sk_test_fake_0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_test_0123456789abcdef0123";
pub const PRICE_PRO: &str = "price_test_pro";
pub const PRICE_ENTERPRISE: &str = "price_test_enterprise";

/// identity, billing and the fake Stripe, wired together on one test database and prefix.
pub struct Stack {
    pub identity: TestApp<identity::State>,
    pub billing: TestApp<billing::State>,
    pub stripe: FakeStripe,
    pub id_api: IdentityClient,
}

/// `env` with `overrides` applied.
pub fn with(mut env: Env, overrides: &[(&str, &str)]) -> Env {
    for (k, v) in overrides {
        env.set(*k, *v);
    }
    env
}

/// The billing variables for a billing on `port` next to identity at `identity_url`.
pub fn billing_env(env: &TestEnv, port: u16, identity_url: &str, stripe_url: &str) -> Env {
    with(
        env.env(),
        &[
            ("PORT", &port.to_string()),
            ("IDENTITY_URL", identity_url),
            ("STRIPE_SECRET_KEY", STRIPE_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_PRICE_PRO", PRICE_PRO),
            ("STRIPE_PRICE_ENTERPRISE", PRICE_ENTERPRISE),
            ("STRIPE_API_BASE", stripe_url),
        ],
    )
}

/// Spawns identity (pointing at billing's future internal port), then billing. `overrides`
/// apply to both. Each calls the other on its internal port (`INTERNAL_PORT`), as deployed.
pub async fn stack(env: &TestEnv, overrides: &[(&str, &str)]) -> Stack {
    let stripe = FakeStripe::start(STRIPE_KEY).await.unwrap();
    let billing_port = free_port().unwrap();
    let billing_internal = free_port().unwrap().to_string();
    let billing_url = format!("http://127.0.0.1:{billing_internal}");
    let id_env = with(
        with(
            env.env(),
            &[("BILLING_URL", &billing_url), ("INTERNAL_PORT", "0")],
        ),
        overrides,
    );
    let id_cfg = identity::Config::from_env(&id_env).expect("valid identity configuration");
    let (client_id, client_secret) = identity::service_client(&id_cfg, "billing")
        .await
        .expect("billing's service client");
    let identity = TestApp::spawn(identity::build(id_cfg).await.expect("identity builds"));
    let b_env = with(
        with(
            billing_env(env, billing_port, &identity.internal_url, &stripe.url()),
            &[
                ("INTERNAL_PORT", &billing_internal),
                ("SERVICE_CLIENT_ID", &client_id),
                ("SERVICE_CLIENT_SECRET", &client_secret),
            ],
        ),
        overrides,
    );
    let billing = spawn_billing(b_env).await;
    let id_api = IdentityClient::new(&identity.base_url);
    Stack {
        identity,
        billing,
        stripe,
        id_api,
    }
}

/// Builds and spawns billing from a full environment.
pub async fn spawn_billing(env: Env) -> TestApp<billing::State> {
    let cfg = billing::Config::from_env(&env).expect("valid billing configuration");
    TestApp::spawn(billing::build(cfg).await.expect("billing builds"))
}

/// A signed-up tenant and its admin token.
pub struct Account {
    pub tenant: Tenant,
    pub id: Uuid,
    pub token: String,
}

impl Stack {
    /// Signs up a tenant.
    pub async fn account(&self, name: &str) -> Account {
        let tenant = self.id_api.signup(name).await.unwrap();
        let token = self.id_api.admin_token(&tenant).await.unwrap();
        Account {
            id: tenant.id.parse().unwrap(),
            tenant,
            token,
        }
    }

    /// Posts a webhook with a valid signature made now.
    pub async fn deliver(&self, payload: &str) -> TestResponse {
        let sig = stripe::sign(payload, WEBHOOK_SECRET, stripe::unix_now());
        self.deliver_signed(payload, &sig).await
    }

    /// Posts a webhook with the given `Stripe-Signature`.
    pub async fn deliver_signed(&self, payload: &str, signature: &str) -> TestResponse {
        let c = &self.billing.client;
        c.send(
            c.request(reqwest::Method::POST, "/api/v1/billing/webhooks/stripe")
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(payload.to_owned()),
        )
        .await
        .unwrap()
    }

    /// A client of billing's port that serves `path`: the internal one for `/internal/*`,
    /// `/metrics` and `/health/detailed`, the public one for the rest.
    pub fn billing_for(&self, path: &str) -> Client {
        if platform::server::internal_only(path) {
            Client::new(&self.billing.internal_url)
        } else {
            self.billing.client.clone()
        }
    }

    /// `GET path` on billing with a token.
    pub async fn billing_get(&self, path: &str, token: &str) -> TestResponse {
        self.billing_for(path).get_auth(path, token).await.unwrap()
    }

    /// `POST path` on billing with a token and JSON body.
    pub async fn billing_post(&self, path: &str, token: &str, body: &Value) -> TestResponse {
        self.billing_for(path)
            .post_json(path, Some(token), body)
            .await
            .unwrap()
    }

    /// The tenant's tier as billing reports it.
    pub async fn tier(&self, a: &Account) -> String {
        let res = self
            .billing_get("/api/v1/billing/subscription", &a.token)
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["tier"].as_str().unwrap().to_owned()
    }

    /// A service token for billing's internal API (the `analytics` client, say).
    pub async fn service_token(&self, name: &str) -> String {
        let (id, secret) = identity::service_client(&self.identity.state.config, name)
            .await
            .unwrap();
        self.id_api.token(&id, &secret).await.unwrap()
    }

    /// Sets today's counter of `metric` for `tenant` in Redis (a day's worth of earlier calls).
    pub async fn set_counter(&self, tenant: Uuid, metric: Metric, value: u64) {
        let key = self.identity.core.quota.usage_key(tenant, metric);
        self.identity
            .core
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EX")
                    .arg(172_800)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
            .unwrap();
    }

    /// Today's counter of `metric` for `tenant` in Redis.
    pub async fn counter(&self, tenant: Uuid, metric: Metric) -> u64 {
        let key = self.identity.core.quota.usage_key(tenant, metric);
        self.identity
            .core
            .redis
            .run(|mut c| async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<u64>>(&mut c)
                    .await
            })
            .await
            .unwrap()
            .unwrap_or(0)
    }
}

/// A subscription event for `tenant` at `created`.
pub fn sub_event(
    id: &str,
    kind: &str,
    created: i64,
    sub_id: &str,
    tenant: Uuid,
    price: &str,
    status: &str,
) -> String {
    let mut sub = stripe::subscription(sub_id, "cus_test_1", price, status, created + 2_592_000);
    sub["metadata"] = json!({"tenant_id": tenant.to_string()});
    stripe::event(id, kind, created, sub)
}

/// Rows of a billing table matching a condition.
pub async fn count(env: &TestEnv, sql: &str) -> i64 {
    let c = env.db.client().await.unwrap();
    c.query_one(&format!("SELECT count(*) FROM billing.{sql}"), &[])
        .await
        .unwrap()
        .get(0)
}

/// Sum of a metric in `usage_events` for a tenant.
pub async fn usage_sum(env: &TestEnv, tenant: Uuid, metric: &str) -> i64 {
    let c = env.db.client().await.unwrap();
    c.query_one(
        "SELECT COALESCE(sum(count), 0)::bigint FROM billing.usage_events
          WHERE tenant_id = $1 AND metric = $2",
        &[&tenant, &metric],
    )
    .await
    .unwrap()
    .get(0)
}
