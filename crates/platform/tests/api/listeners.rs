//! `INTERNAL_PORT`: the internal listener alone serves `/internal/*`, `/metrics` and
//! `/health/detailed`; unset, the one listener serves everything.

use testkit::{Client, TestEnv};

use crate::support::{LIMITED, spawn};

const INTERNAL_ONLY: [&str; 4] = [
    "/metrics",
    "/health/detailed",
    "/internal/v1/anything",
    // The router matches the re-quoted path: an escaped letter must not slip past the gate.
    "/%69nternal/v1/anything",
];

#[tokio::test]
async fn without_internal_port_one_listener_serves_metrics_and_detailed_health() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &[]).await;
    assert_eq!(app.internal_url, app.base_url);
    app.client.get("/metrics").await.unwrap().expect_status(200);
    app.client
        .get("/health/detailed")
        .await
        .unwrap()
        .expect_status(200);
}

#[tokio::test]
async fn public_port_answers_404_for_internal_paths_that_the_internal_port_serves() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &[("INTERNAL_PORT", "0")]).await;
    assert_ne!(app.internal_url, app.base_url);
    let internal = Client::new(&app.internal_url);

    for path in INTERNAL_ONLY {
        let res = app.client.get(path).await.unwrap();
        assert_eq!(res.status, 404, "public {path}: {}", res.body);
        assert_eq!(res.json()["code"], "route_not_found", "public {path}");
    }
    let metrics = internal.get("/metrics").await.unwrap();
    metrics.expect_status(200);
    assert!(metrics.body.contains("agentidp_db_pool_max_connections"));
    internal
        .get("/health/detailed")
        .await
        .unwrap()
        .expect_status(200);
    // No such internal route in this application: the internal port's own 404.
    internal
        .get("/internal/v1/anything")
        .await
        .unwrap()
        .expect_status(404);

    // Everything else is served on both.
    for client in [&app.client, &internal] {
        client.get(LIMITED).await.unwrap().expect_status(200);
        client.get("/health/live").await.unwrap().expect_status(200);
        client
            .get("/health/ready")
            .await
            .unwrap()
            .expect_status(200);
    }
}

#[tokio::test]
async fn internal_port_equal_to_port_is_refused() {
    let env = TestEnv::new().await.unwrap();
    let cfg = env.env_with(&[("PORT", "9300"), ("INTERNAL_PORT", "9300")]);
    let errs =
        platform::config::read_common(&cfg, platform::config::ServiceKind::Billing).unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].var, "INTERNAL_PORT");
}
