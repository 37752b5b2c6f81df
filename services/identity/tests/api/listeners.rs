//! `INTERNAL_PORT`: the change feed, the metrics and the detailed health view are served on
//! the internal port only; the public API on both.

use domain::FeedPage;
use testkit::{Client, TestEnv};

use crate::helpers::{service_token, spawn, world};

#[tokio::test]
async fn the_feed_and_metrics_answer_404_on_the_public_port_and_work_on_the_internal_port() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("INTERNAL_PORT", "0")]).await;
    let internal = Client::new(&id.app.internal_url);
    assert_ne!(id.app.internal_url, id.app.base_url);
    let token = service_token(&id, "marketplace").await;
    let w = world(&id, "Listeners").await;

    for path in [
        "/internal/v1/events",
        // Re-quoted by the router to the feed's path: refused on the public port as well.
        "/%69nternal/v1/events",
    ] {
        let public = id.app.client.get_auth(path, &token).await.unwrap();
        assert_eq!(public.status, 404, "public {path}: {}", public.body);
        assert_eq!(public.json()["code"], "route_not_found");
    }
    for path in ["/metrics", "/health/detailed"] {
        let public = id.app.client.get(path).await.unwrap();
        assert_eq!(public.status, 404, "public {path}: {}", public.body);
    }

    let res = internal
        .get_auth("/internal/v1/events?limit=100", &token)
        .await
        .unwrap();
    let page: FeedPage = res.expect(200);
    assert!(
        page.events.iter().any(|e| e.action == "agent.created"),
        "the feed shows the agent just created: {:?}",
        page.events.iter().map(|e| &e.action).collect::<Vec<_>>()
    );
    let metrics = internal.get("/metrics").await.unwrap();
    metrics.expect_status(200);
    assert!(
        metrics.body.contains("agentidp_tokens_issued_total"),
        "{}",
        metrics.body
    );
    internal
        .get("/health/detailed")
        .await
        .unwrap()
        .expect_status(200);

    // The public API answers on both ports.
    for client in [&id.app.client, &internal] {
        client
            .get_auth(&format!("/api/v1/agents/{}", w.agent_id()), &w.admin)
            .await
            .unwrap()
            .expect_status(200);
        client
            .get("/.well-known/jwks.json")
            .await
            .unwrap()
            .expect_status(200);
    }
}
