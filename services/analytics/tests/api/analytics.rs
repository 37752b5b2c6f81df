//! Token and activity analytics: UTC bucket boundaries, the HTTP API, retention.

use analytics::{reports, retention};
use serde_json::json;
use testkit::TestEnv;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use crate::helpers::{analytics_only, apply, caught_up, event, rollup_totals, stack, world};

#[tokio::test]
async fn buckets_split_exactly_at_utc_hour_and_day_boundaries() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[]).await;
    let tenant = Uuid::new_v4();
    let agent = json!({"agent_id": Uuid::new_v4()});
    // 2026-03-01 is a Sunday.
    let times = [
        datetime!(2026-03-01 23:59:59.999 UTC),
        datetime!(2026-03-02 00:00:00 UTC),
        datetime!(2026-03-02 00:59:59.999 UTC),
        datetime!(2026-03-02 01:00:00 UTC),
        datetime!(2026-03-02 03:30:00 +02:00),
    ];
    let events: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, t)| event(tenant, i as i64 + 1, "token.issued", *t, agent.clone()))
        .collect();
    apply(&app, &events).await;

    let now = datetime!(2026-03-02 12:00 UTC);
    let c = app.core.db.pool().get().await.unwrap();
    let days = reports::token_days(&c, tenant, 3, now).await.unwrap();
    let issued: Vec<(&str, i64)> = days.iter().map(|d| (d.date.as_str(), d.issued)).collect();
    assert_eq!(
        issued,
        [("2026-02-28", 0), ("2026-03-01", 1), ("2026-03-02", 4)]
    );

    let grid = reports::activity(&c, tenant, 7, now).await.unwrap();
    assert_eq!(grid[6][23], 1, "Sunday 23:59:59.999 is Sunday's last hour");
    assert_eq!(grid[0][0], 2, "Monday 00:00:00 and 00:59:59.999");
    assert_eq!(grid[0][1], 2, "Monday 01:00:00 UTC and 03:30 at +02:00");
    assert_eq!(grid.iter().flatten().sum::<i64>(), 5);

    // A window that ends before Monday sees only Sunday's event.
    let grid = reports::activity(&c, tenant, 7, datetime!(2026-03-01 23:59:59.999 UTC))
        .await
        .unwrap();
    assert_eq!(grid.iter().flatten().sum::<i64>(), 1);
}

#[tokio::test]
async fn retention_deletes_rollups_older_than_the_window() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[]).await;
    let tenant = Uuid::new_v4();
    let now = OffsetDateTime::now_utc();
    let old = now - time::Duration::days(95);
    let recent = now - time::Duration::days(89);
    apply(
        &app,
        &[
            event(tenant, 1, "token.issued", old, json!({})),
            event(tenant, 2, "token.refused", recent, json!({})),
        ],
    )
    .await;
    let deleted = retention::run_once(&app.core.db, 90, now).await.unwrap();
    assert_eq!(deleted, 2, "the old event's hour and day rows");
    let left = rollup_totals(&env, &tenant.to_string()).await;
    assert_eq!(left.get("token.issued"), None);
    assert_eq!(left["token.refused"], 1);
}

#[tokio::test]
async fn token_and_agent_analytics_over_http() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let w = world(&s.api, "Analytics Http").await;
    for _ in 0..3 {
        s.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }
    caught_up(&env, &w.tenant.id).await;
    let api = &s.analytics.client;

    let res = api
        .get_auth("/api/v1/analytics/tokens?days=7", &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let body = res.json();
    assert_eq!(body["series"].as_array().unwrap().len(), 7);
    let today = OffsetDateTime::now_utc().date().to_string();
    assert_eq!(body["series"][6]["date"], today);
    // Three by the agent, one by the tenant admin.
    assert_eq!(body["series"][6]["issued"], 4);
    assert_eq!(body["totals"]["issued"], 4);
    let default = api
        .get_auth("/api/v1/analytics/tokens", &w.admin)
        .await
        .unwrap();
    assert_eq!(default.json()["series"].as_array().unwrap().len(), 30);

    for bad in ["days=0", "days=91", "days=abc", "weeks=2"] {
        let res = api
            .get_auth(&format!("/api/v1/analytics/tokens?{bad}"), &w.admin)
            .await
            .unwrap();
        assert_eq!(res.status, 400, "{bad}: {}", res.body);
        assert_eq!(res.json()["code"], "invalid_query", "{bad}");
    }

    let heat = api
        .get_auth("/api/v1/analytics/agents/activity", &w.admin)
        .await
        .unwrap();
    assert_eq!(heat.status, 200, "{}", heat.body);
    let grid = heat.json()["heatmap"].clone();
    assert_eq!(grid.as_array().unwrap().len(), 7);
    assert_eq!(grid[0].as_array().unwrap().len(), 24);
    assert_eq!(heat.json()["total"], 4);

    let agents = api
        .get_auth("/api/v1/analytics/agents", &w.admin)
        .await
        .unwrap();
    assert_eq!(agents.status, 200, "{}", agents.body);
    let list = agents.json()["agents"].clone();
    assert_eq!(list[0]["agent_id"], w.agent["id"]);
    assert_eq!(list[0]["tokens_issued"], 3);
    let bad = api
        .get_auth("/api/v1/analytics/agents?month=2026-13", &w.admin)
        .await
        .unwrap();
    assert_eq!(bad.status, 400);

    // An agent token without analytics:read is refused; no token is 401.
    let agent_token = s
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let res = api
        .get_auth("/api/v1/analytics/tokens", &agent_token)
        .await
        .unwrap();
    assert_eq!(res.status, 403);
    assert_eq!(
        api.get("/api/v1/analytics/tokens").await.unwrap().status,
        401
    );
}

#[tokio::test]
async fn disabled_analytics_answers_404() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[]).await;
    for path in ["/api/v1/analytics/tokens", "/api/v1/compliance/controls"] {
        assert_eq!(app.client.get(path).await.unwrap().status, 404, "{path}");
    }
}
