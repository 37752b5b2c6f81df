//! `/health/detailed`: each dependency with its status and latency.

use std::time::Duration;

use testkit::{PrivateRedis, SlowHttp, TestEnv};

use crate::support::spawn;

#[tokio::test]
async fn detailed_health_reports_each_dependency() {
    let env = TestEnv::new().await.unwrap();
    let slow_vault = SlowHttp::start(Duration::from_millis(1200), 200)
        .await
        .unwrap();
    let stuck_opa = SlowHttp::start(Duration::from_millis(3000), 200)
        .await
        .unwrap();
    let mut redis = PrivateRedis::start().await.unwrap();
    let redis_url = redis.url();

    let healthy = spawn(&env, &[]).await;
    let degraded = spawn(&env, &[("VAULT_ADDR", &slow_vault.url())]).await;
    let unreachable_opa = spawn(&env, &[("OPA_URL", &stuck_opa.url())]).await;
    let no_redis = spawn(&env, &[("REDIS_URL", &redis_url)]).await;
    redis.stop();

    let (h, d, o, r) = tokio::join!(
        healthy.client.get("/health/detailed"),
        degraded.client.get("/health/detailed"),
        unreachable_opa.client.get("/health/detailed"),
        no_redis.client.get("/health/detailed"),
    );
    let (h, d, o, r) = (h.unwrap(), d.unwrap(), o.unwrap(), r.unwrap());

    assert_eq!(h.status, 200, "{}", h.body);
    let hb = h.json();
    assert_eq!(hb["status"], "healthy");
    assert_eq!(hb["database"]["status"], "healthy");
    assert_eq!(hb["redis"]["status"], "healthy");
    assert!(hb["database"]["latencyMs"].is_u64());
    assert!(hb.get("vault").is_none() && hb.get("opa").is_none());

    assert_eq!(d.status, 207, "{}", d.body);
    let db = d.json();
    assert_eq!(db["status"], "degraded");
    assert_eq!(db["vault"]["status"], "degraded");
    assert!(db["vault"]["latencyMs"].as_u64().unwrap() > 1000);

    assert_eq!(o.status, 503, "{}", o.body);
    let ob = o.json();
    assert_eq!(ob["status"], "unhealthy");
    assert_eq!(ob["opa"]["status"], "unreachable");
    assert!(ob["opa"]["latencyMs"].as_u64().unwrap() >= 2000);

    assert_eq!(r.status, 503, "{}", r.body);
    let rb = r.json();
    assert_eq!(rb["status"], "unhealthy");
    assert_eq!(rb["redis"]["status"], "unreachable");
    assert!(rb["redis"]["message"].is_string());
    // Readiness does not depend on Redis: every Redis use fails open.
    assert_eq!(
        no_redis.client.get("/health/ready").await.unwrap().status,
        200
    );
}
