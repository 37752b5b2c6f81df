//! The compliance report (content, caching, degradation) and the public control catalogue.

use std::time::Duration;

use analytics::compliance;
use platform::config::RedisConfig;
use serde_json::json;
use testkit::{PrivateRedis, TestEnv, eventually};
use uuid::Uuid;

use crate::helpers::{analytics_only, stack, world};

#[tokio::test]
async fn the_report_is_served_from_cache_within_its_ttl_and_fresh_after() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("COMPLIANCE_CACHE_TTL_SECS", "2")]).await;
    let w = world(&s.api, "Compliance Cache").await;
    // A second credential that expires in three days.
    s.api
        .create_credential(
            &w.admin,
            w.agent_id(),
            &json!({"expires_in_secs": 3 * 86_400}),
        )
        .await
        .unwrap();
    let api = &s.analytics.client;
    // Wait until the projection has seen both credentials.
    let first = eventually(Duration::from_secs(30), || async {
        let redis = &s.analytics.core.redis;
        let tenant: Uuid = w.tenant.id.parse().unwrap();
        let _ = redis
            .run(|mut c| {
                let key = compliance::cache_key(redis, tenant);
                async move {
                    platform::redis::redis::cmd("DEL")
                        .arg(key)
                        .query_async::<()>(&mut c)
                        .await
                }
            })
            .await;
        let res = api
            .get_auth("/api/v1/compliance/report", &w.admin)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        (res.json()["credentials"]["active"] == 2).then_some(res)
    })
    .await
    .expect("the projection never showed both credentials");
    assert_eq!(first.header("x-cache"), Some("miss"));
    let report = first.json();
    assert_eq!(report["schema_version"], "1.0");
    assert_eq!(report["tenant_id"], w.tenant.id.as_str());
    assert_eq!(report["agents"]["active"], 1);
    assert_eq!(report["agents"]["active_with_did"], 1);
    assert_eq!(report["credentials"]["never_rotated"]["count"], 2);
    assert_eq!(report["credentials"]["expiring_within_7_days"]["count"], 1);
    let controls = report["controls"].as_array().unwrap();
    assert_eq!(controls.len(), 6);
    let control = |id: &str| controls.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(control("agent-identity")["status"], "pass");
    assert_eq!(control("credential-expiry")["status"], "fail");
    assert_eq!(control("credential-rotation")["status"], "pass");
    assert_eq!(control("access-removal")["status"], "pass");
    // From identity's internal endpoints: the audit chain walk and the signing keys.
    assert_eq!(
        report["audit_chain"]["status"], "valid",
        "{}",
        report["audit_chain"]
    );
    assert!(report["audit_chain"]["checked_events"].as_u64().unwrap() > 0);
    assert_eq!(control("audit-integrity")["status"], "pass");
    assert_eq!(
        report["signing_keys"]["status"], "current",
        "{}",
        report["signing_keys"]
    );
    assert_eq!(report["signing_keys"]["alg"], "ES256");
    assert_eq!(control("key-rotation")["status"], "pass");
    assert_eq!(
        report["summary"],
        json!({"passed": 5, "failed": 1, "unknown": 0})
    );

    let again = api
        .get_auth("/api/v1/compliance/report", &w.admin)
        .await
        .unwrap();
    assert_eq!(again.header("x-cache"), Some("hit"));
    assert_eq!(again.json()["generated_at"], report["generated_at"]);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let fresh = api
        .get_auth("/api/v1/compliance/report", &w.admin)
        .await
        .unwrap();
    assert_eq!(fresh.header("x-cache"), Some("miss"));
    assert_ne!(fresh.json()["generated_at"], report["generated_at"]);

    // compliance:read is required.
    let agent_token = s
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let res = api
        .get_auth("/api/v1/compliance/report", &agent_token)
        .await
        .unwrap();
    assert_eq!(res.status, 403);
}

#[tokio::test]
async fn without_identity_the_chain_and_keys_are_unknown_with_the_reason() {
    let env = TestEnv::new().await.unwrap();
    // A wrong service secret: every internal call to identity fails.
    let s = stack(&env, &[("SERVICE_CLIENT_SECRET", "not-the-secret")]).await;
    let w = world(&s.api, "Compliance Degraded").await;
    let res = s
        .analytics
        .client
        .get_auth("/api/v1/compliance/report", &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let report = res.json();
    for (section, control) in [("audit_chain", 4), ("signing_keys", 5)] {
        assert_eq!(report[section]["status"], "unknown", "{}", report[section]);
        assert!(
            report[section]["error"]
                .as_str()
                .unwrap()
                .contains("no service token")
        );
        assert_eq!(report["controls"][control]["status"], "unknown");
        let evidence = report["controls"][control]["evidence"].as_str().unwrap();
        assert!(evidence.contains("unavailable from identity"), "{evidence}");
    }
    assert_eq!(report["summary"]["unknown"], 2);
}

#[tokio::test]
async fn the_default_cache_lives_five_minutes() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let w = world(&s.api, "Compliance Ttl").await;
    let res = s
        .analytics
        .client
        .get_auth("/api/v1/compliance/report", &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let redis = &s.analytics.core.redis;
    let key = compliance::cache_key(redis, w.tenant.id.parse().unwrap());
    assert!(
        key.ends_with(&format!("cache:compliance:{}", w.tenant.id)),
        "{key}"
    );
    let ttl: i64 = redis
        .run(|mut c| async move {
            platform::redis::redis::cmd("TTL")
                .arg(key)
                .query_async(&mut c)
                .await
        })
        .await
        .unwrap();
    assert!((295..=300).contains(&ttl), "TTL {ttl}");
}

#[tokio::test]
async fn a_failing_redis_means_no_cache_not_an_error() {
    let mut private = PrivateRedis::start().await.unwrap();
    let redis = platform::redis::Redis::new(&RedisConfig {
        url: platform::Secret::new(private.url()),
        ca_file: None,
        key_prefix: "t:".into(),
        response_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(200),
        reconnect_interval: Duration::from_millis(50),
    })
    .unwrap();
    let tenant = Uuid::new_v4();
    let report = json!({"generated_at": "x"});
    compliance::store(&redis, tenant, &report, 60).await;
    assert_eq!(
        compliance::cached(&redis, tenant).await,
        Some(report.clone())
    );
    private.stop();
    assert_eq!(compliance::cached(&redis, tenant).await, None);
    compliance::store(&redis, tenant, &report, 60).await;
}

#[tokio::test]
async fn the_control_catalogue_is_public_and_cacheable_for_a_minute() {
    let env = TestEnv::new().await.unwrap();
    let app = analytics_only(&env, &[("COMPLIANCE_ENABLED", "true")]).await;
    let res = app.client.get("/api/v1/compliance/controls").await.unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
    let body = res.json();
    let ids: Vec<&str> = body["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "agent-identity",
            "credential-rotation",
            "credential-expiry",
            "access-removal",
            "audit-integrity",
            "key-rotation"
        ]
    );
    assert!(
        body["controls"][0]["criteria"][0]
            .as_str()
            .unwrap()
            .starts_with("CC")
    );
    // The report itself needs a token.
    let res = app.client.get("/api/v1/compliance/report").await.unwrap();
    assert_eq!(res.status, 401);
}
