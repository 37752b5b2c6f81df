//! The shared rate limiter: one limit across instances, the in-memory fallback while Redis
//! is down, and the way back.

use std::time::Duration;

use testkit::{PrivateRedis, TestEnv, eventually, logs};

use crate::support::{LIMITED, remaining, spawn};

#[tokio::test]
async fn two_instances_share_one_limit() {
    let env = TestEnv::new().await.unwrap();
    let limits = [
        ("RATE_LIMIT_MAX_REQUESTS", "5"),
        ("RATE_LIMIT_WINDOW_MS", "60000"),
    ];
    let a = spawn(&env, &limits).await;
    let b = spawn(&env, &limits).await;

    for i in 0..5u64 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app.client.get(LIMITED).await.unwrap();
        assert_ne!(res.status, 429, "request {i} refused too early");
        assert_eq!(remaining(&res), Some(4 - i), "request {i}");
        assert_eq!(res.header("ratelimit-limit"), Some("5"));
    }
    for app in [&b, &a] {
        let res = app.client.get(LIMITED).await.unwrap();
        assert_eq!(res.status, 429);
        let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=66).contains(&retry), "Retry-After {retry}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let body = res.json();
        assert_eq!(body["code"], "rate_limited");
        assert_eq!(body["limit"], "ip");
        assert_eq!(body["status"], 429);
    }
    // Health and metrics are never limited, and the refusals are counted.
    assert_eq!(a.client.get("/health/live").await.unwrap().status, 200);
    let metrics = a.client.get("/metrics").await.unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l.starts_with("agentidp_rate_limit_hits_total") && l.contains("action=\"ip\"")),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn redis_outage_falls_back_to_memory_and_sharing_resumes() {
    let env = TestEnv::new().await.unwrap();
    let mut redis = PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let overrides = [
        ("REDIS_URL", url.as_str()),
        ("RATE_LIMIT_MAX_REQUESTS", "4"),
        ("RATE_LIMIT_WINDOW_MS", "60000"),
    ];
    let a = spawn(&env, &overrides).await;
    let b = spawn(&env, &overrides).await;
    assert_eq!(remaining(&a.client.get(LIMITED).await.unwrap()), Some(3));

    redis.stop();
    // Served under the in-memory limit of each instance, never refused wholesale.
    for i in 0..4 {
        let res = a.client.get(LIMITED).await.unwrap();
        assert_ne!(res.status, 429, "request {i} during the outage");
        assert!(res.status < 500, "request {i}: {}", res.status);
    }
    assert_eq!(a.client.get(LIMITED).await.unwrap().status, 429);
    let port = format!("127.0.0.1:{}", redis.port());
    let warnings = logs::lines_with(&["redis is unreachable", &port, "WARN"]);
    assert!(!warnings.is_empty(), "no warning logged for {port}");

    redis.restart().await.unwrap();
    // Back on Redis: the (empty) shared window replaces the full in-memory one.
    let back = eventually(Duration::from_secs(5), || async {
        let res = a.client.get(LIMITED).await.ok()?;
        (res.status != 429 && remaining(&res) == Some(3)).then_some(())
    })
    .await;
    assert!(back.is_some(), "instance a never returned to Redis");
    // And the limit is shared again: b sees a's request.
    let res = b.client.get(LIMITED).await.unwrap();
    assert_ne!(res.status, 429);
    assert_eq!(remaining(&res), Some(2));
    assert_eq!(remaining(&a.client.get(LIMITED).await.unwrap()), Some(1));
    assert_eq!(remaining(&b.client.get(LIMITED).await.unwrap()), Some(0));
    assert_eq!(a.client.get(LIMITED).await.unwrap().status, 429);
    assert!(!logs::lines_with(&["reachable again", &port]).is_empty());
}

#[tokio::test]
async fn in_memory_limiter_when_redis_limiting_is_disabled() {
    let env = TestEnv::new().await.unwrap();
    let overrides = [
        ("REDIS_RATE_LIMIT_ENABLED", "false"),
        ("RATE_LIMIT_MAX_REQUESTS", "2"),
    ];
    let a = spawn(&env, &overrides).await;
    let b = spawn(&env, &overrides).await;
    // Each instance counts on its own.
    for app in [&a, &b] {
        assert_ne!(app.client.get(LIMITED).await.unwrap().status, 429);
        assert_ne!(app.client.get(LIMITED).await.unwrap().status, 429);
        let res = app.client.get(LIMITED).await.unwrap();
        assert_eq!(res.status, 429);
        assert!(res.header("retry-after").is_some());
    }
}
