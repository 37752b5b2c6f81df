//! The tenant budget (rate limit, daily quota, metering) is spent after authorization.

use platform::metering::Metric;
use platform::redis::redis;
use testkit::{TestApp, TestEnv};
use uuid::Uuid;

use crate::support::{State, revocations_loaded, set, spawn};

/// What a tenant has spent, read from Redis (rate-limit window, quota counter) and from the
/// metering counters (drained into `metered`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Spent {
    rate: u64,
    quota: u64,
    metered: u64,
}

async fn spent(app: &TestApp<State>, tenant: Uuid, so_far: &mut Spent) -> Spent {
    let rate_key = app.core.redis.key("rate", &format!("tenant:{tenant}"));
    let usage_key = app.core.quota.usage_key(tenant, Metric::ApiCalls);
    let (window, usage): (Vec<u64>, Option<u64>) = app
        .core
        .redis
        .run(|mut c| async move {
            redis::pipe()
                .cmd("HVALS")
                .arg(rate_key)
                .cmd("GET")
                .arg(usage_key)
                .query_async(&mut c)
                .await
        })
        .await
        .unwrap();
    so_far.metered += app
        .core
        .metering
        .drain()
        .iter()
        .filter(|c| c.tenant_id == tenant && c.metric == Metric::ApiCalls)
        .map(|c| c.count)
        .sum::<u64>();
    Spent {
        rate: window.iter().sum(),
        quota: usage.unwrap_or(0),
        metered: so_far.metered,
    }
}

/// The test application, ready to verify tokens, and a tenant on the pro tier.
async fn with_tenant(env: &TestEnv, overrides: &[(&str, &str)]) -> (TestApp<State>, Uuid) {
    let app = spawn(env, overrides).await;
    revocations_loaded(&app).await;
    let tenant = Uuid::new_v4();
    set(&app, &app.core.quota.tier_key(tenant), "pro").await;
    (app, tenant)
}

fn spent_n(n: u64) -> Spent {
    Spent {
        rate: n,
        quota: n,
        metered: n,
    }
}

#[tokio::test]
async fn a_token_without_the_scope_costs_its_tenant_nothing() {
    let env = TestEnv::new().await.unwrap();
    let (app, tenant) = with_tenant(&env, &[]).await;
    let mut so_far = Spent::default();

    // Refused for a missing scope, whichever of several scope checks fails.
    let writer = app.state.token(tenant, "agents:write");
    let reader = app.state.token(tenant, "agents:read");
    for (path, token) in [
        ("/api/v1/scoped", &writer),
        ("/api/v1/two-scopes", &writer),
        ("/api/v1/two-scopes", &reader),
    ] {
        let res = app.client.get_auth(path, token).await.unwrap();
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        assert_eq!(res.json()["code"], "insufficient_scope");
    }
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(0));

    // An allowed request is counted once in each.
    let res = app
        .client
        .get_auth("/api/v1/scoped", &reader)
        .await
        .unwrap();
    let body: serde_json::Value = res.expect(200);
    assert_eq!(body["tenant"], tenant.to_string());
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(1));

    // So is one with several scope checks, and one whose handler checks no scope.
    let both = app.state.token(tenant, "agents:read agents:write");
    let res = app.client.get_auth("/api/v1/two-scopes", &both).await;
    assert_eq!(res.unwrap().status, 200);
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(2));
    let res = app.client.get_auth("/api/v1/tenant", &writer).await;
    assert_eq!(res.unwrap().status, 200);
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(3));
}

#[tokio::test]
async fn a_refused_token_costs_nothing_and_the_tenant_limit_still_applies() {
    let env = TestEnv::new().await.unwrap();
    let limits = [
        ("RATE_LIMIT_TENANT_MAX", "2"),
        ("TIER_ENFORCEMENT", "false"),
    ];
    let (app, tenant) = with_tenant(&env, &limits).await;
    let mut so_far = Spent::default();

    let res = app.client.get_auth("/api/v1/scoped", "not-a-token").await;
    assert_eq!(res.unwrap().status, 401);
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(0));

    let reader = app.state.token(tenant, "agents:read");
    for _ in 0..2 {
        let res = app.client.get_auth("/api/v1/scoped", &reader).await;
        assert_eq!(res.unwrap().status, 200);
    }
    let res = app
        .client
        .get_auth("/api/v1/scoped", &reader)
        .await
        .unwrap();
    assert_eq!(res.status, 429, "{}", res.body);
    let body = res.json();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["limit"], "tenant");
    // The refused call used no quota and was not metered.
    assert_eq!(spent(&app, tenant, &mut so_far).await, spent_n(2));
}
