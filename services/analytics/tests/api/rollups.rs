//! Rollups from the change feed: equal to the raw events, unchanged by redelivery, rebuilt
//! identically from cursor 0.

use std::time::Duration;

use analytics::projection::{APPLIED, AnalyticsProjection, CONSUMER};
use domain::FeedCursor;
use serde_json::json;
use testkit::{TestEnv, eventually};
use time::macros::datetime;
use uuid::Uuid;

use crate::helpers::{
    analytics_only, apply, caught_up, event, raw_counts, rollup_totals, stack, world,
};

async fn stored_cursor(env: &TestEnv) -> FeedCursor {
    let c = env.db.client().await.unwrap();
    c.query_opt(
        "SELECT cursor FROM analytics.feed_cursors WHERE consumer = $1",
        &[&CONSUMER],
    )
    .await
    .unwrap()
    .map_or(FeedCursor::START, |r| {
        r.get::<_, String>(0).parse().unwrap()
    })
}

/// Waits until the consumer stands at or past `at`.
async fn consumer_reaches(env: &TestEnv, at: FeedCursor) {
    eventually(Duration::from_secs(30), || async {
        (stored_cursor(env).await >= at).then_some(())
    })
    .await
    .expect("the consumer never got back to where it was");
}

#[tokio::test]
async fn rollups_equal_raw_events_survive_redelivery_and_rebuild_from_cursor_zero() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let w = world(&s.api, "Rollup Replay").await;
    let mut tokens = Vec::new();
    for _ in 0..5 {
        tokens.push(
            s.api
                .token(&w.cred.client_id, &w.cred.client_secret)
                .await
                .unwrap(),
        );
    }
    // Two clients refused once each: identity audits the first refusal of a client at once
    // (later ones within a minute are summed into one event with a `count`).
    for client_id in [&w.cred.client_id, &w.tenant.client_id] {
        let refused = s.api.token_response(client_id, "wrong", &[]).await.unwrap();
        assert_eq!(refused.status, 401);
    }
    let revoke = s
        .api
        .http
        .send(
            s.api
                .http
                .request(reqwest::Method::POST, "/oauth2/revoke")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[("token", tokens[0].as_str())]),
        )
        .await
        .unwrap();
    assert_eq!(revoke.status, 200, "{}", revoke.body);
    let path = format!("/api/v1/agents/{}", w.agent_id());
    let suspended = s
        .api
        .post_empty(&format!("{path}/suspend"), &w.admin)
        .await
        .unwrap();
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    let back = s
        .api
        .post_empty(&format!("{path}/reactivate"), &w.admin)
        .await
        .unwrap();
    assert_eq!(back.status, 200, "{}", back.body);

    let tenant = w.tenant.id.as_str();
    let first = caught_up(&env, tenant).await;
    // Five by the agent, one by the tenant admin (its token for the management API).
    assert_eq!(first["token.issued"], 6, "{first:?}");
    assert_eq!(first["token.refused"], 2, "{first:?}");
    assert_eq!(first["token.revoked"], 1, "{first:?}");
    assert_eq!(first["agent.suspended"], 1, "{first:?}");
    // The tenant admin's credential and the agent's.
    assert_eq!(first["credential.generated"], 2, "{first:?}");
    let per_agent: i64 = {
        let c = env.db.client().await.unwrap();
        c.query_one(
            "SELECT SUM(count)::int8 FROM analytics.rollups WHERE granularity = 'hour'
                AND metric = 'token.issued' AND agent_id = $1::text::uuid",
            &[&w.agent_id()],
        )
        .await
        .unwrap()
        .get(0)
    };
    assert_eq!(per_agent, 5, "token rollups carry the agent");

    // Redelivery: rewind the cursor without clearing anything; the consumer reads every
    // event again and nothing changes.
    let head = stored_cursor(&env).await;
    {
        let c = env.db.client().await.unwrap();
        c.execute(
            "UPDATE analytics.feed_cursors SET cursor = '0' WHERE consumer = $1",
            &[&CONSUMER],
        )
        .await
        .unwrap();
    }
    consumer_reaches(&env, head).await;
    assert_eq!(
        rollup_totals(&env, tenant).await,
        first,
        "redelivery counted twice"
    );

    // Rebuild: clear the projection and replay from cursor 0.
    platform::feed::rebuild(&s.analytics.core.db, CONSUMER, &AnalyticsProjection)
        .await
        .unwrap();
    let rebuilt = caught_up(&env, tenant).await;
    assert_eq!(rebuilt, first);
    assert_eq!(rebuilt, raw_counts(&env, tenant).await);
}

#[tokio::test]
async fn a_page_applied_twice_counts_once() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[]).await;
    let tenant = Uuid::new_v4();
    let agent = Uuid::new_v4();
    let at = datetime!(2026-03-04 10:30 UTC);
    let page: Vec<_> = (1..=4)
        .map(|seq| event(tenant, seq, "token.issued", at, json!({"agent_id": agent})))
        .collect();
    apply(&app, &page).await;
    apply(&app, &page).await;
    apply(&app, &page[2..]).await;
    let totals = rollup_totals(&env, &tenant.to_string()).await;
    assert_eq!(totals["token.issued"], 4);
    // A later page still counts.
    apply(
        &app,
        &[event(
            tenant,
            5,
            "token.issued",
            at,
            json!({"agent_id": agent}),
        )],
    )
    .await;
    assert_eq!(
        rollup_totals(&env, &tenant.to_string()).await["token.issued"],
        5
    );
}

#[tokio::test]
async fn the_applied_position_of_the_previous_release_carries_over() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[]).await;
    let tenant = Uuid::new_v4();
    let at = datetime!(2026-03-04 10:30 UTC);
    let page: Vec<_> = (1..=4)
        .map(|seq| event(tenant, seq, "token.issued", at, json!({})))
        .collect();
    apply(&app, &page).await;
    // As the previous release left it: the position in `projection_state` only.
    {
        let c = app.core.db.pool().get().await.unwrap();
        c.execute("DELETE FROM feed_cursors WHERE consumer = $1", &[&APPLIED])
            .await
            .unwrap();
        c.execute(
            "INSERT INTO projection_state (projection, applied_through) VALUES ('analytics', $1)",
            &[&page[3].cursor.to_string()],
        )
        .await
        .unwrap();
        c.batch_execute(include_str!(
            "../../../../migrations/analytics/V3__applied_position_in_feed_cursors.sql"
        ))
        .await
        .unwrap();
    }
    apply(&app, &page).await;
    let totals = || async { rollup_totals(&env, &tenant.to_string()).await["token.issued"] };
    assert_eq!(
        totals().await,
        4,
        "a page applied before the upgrade counted again"
    );
    apply(&app, &[event(tenant, 5, "token.issued", at, json!({}))]).await;
    assert_eq!(totals().await, 5);
}
