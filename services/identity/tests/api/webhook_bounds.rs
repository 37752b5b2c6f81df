//! Webhook deliveries are bounded: a receiver's answer is read only up to a few KiB, an
//! attempt ends within the timeout, and one tenant's slow receivers cannot take every
//! delivery slot from the others.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::identity::agent_body;
use testkit::receiver::Receiver;
use testkit::{TestEnv, eventually};

use crate::helpers::{Identity, spawn};

const TIMEOUT_MS: u64 = 2000;

async fn subscribe(id: &Identity, admin: &str, url: &str) -> String {
    let res = id
        .app
        .client
        .post_json(
            "/api/v1/webhooks",
            Some(admin),
            &json!({"url": url, "event_types": ["agent.created"]}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()["id"].as_str().unwrap().to_owned()
}

/// A new tenant's admin token.
async fn admin(id: &Identity, name: &str) -> String {
    let tenant = id.api.signup(name).await.unwrap();
    id.api.admin_token(&tenant).await.unwrap()
}

async fn deliveries(id: &Identity, admin: &str, hook: &str) -> Vec<Value> {
    let res = id
        .app
        .client
        .get_auth(&format!("/api/v1/webhooks/{hook}/deliveries"), admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["data"].as_array().unwrap().clone()
}

async fn attempts(id: &Identity, admin: &str, hook: &str, delivery: &Value) -> Vec<Value> {
    let res = id
        .app
        .client
        .get_auth(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}",
                delivery["id"].as_str().unwrap()
            ),
            admin,
        )
        .await
        .unwrap();
    res.json()["attempt_history"].as_array().unwrap().clone()
}

#[tokio::test]
async fn endless_and_silent_receivers_are_cut_off_and_other_tenants_keep_their_deliveries() {
    let env = TestEnv::new().await.unwrap();
    let timeout = TIMEOUT_MS.to_string();
    let id = spawn(
        &env,
        &[
            ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
            ("WEBHOOK_POLL_INTERVAL_MS", "20"),
            ("WEBHOOK_RETRY_BASE_MS", "600000"),
            ("WEBHOOK_TIMEOUT_MS", &timeout),
            ("WEBHOOK_CONCURRENCY", "4"),
            ("WEBHOOK_TENANT_CONCURRENCY", "2"),
        ],
    )
    .await;
    let slow = admin(&id, "Slow Receivers").await;
    let endless = Receiver::endless_error().await.unwrap();
    let silent = Receiver::silent().await.unwrap();
    let endless_hook = subscribe(&id, &slow, &endless.url()).await;
    let silent_hook = subscribe(&id, &slow, &silent.url()).await;
    let prompt = admin(&id, "Prompt Receiver").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = subscribe(&id, &prompt, &rx.url()).await;
    // Four deliveries of the slow tenant: as many as the instance has slots.
    for i in 0..2 {
        id.api
            .create_agent(&slow, &agent_body(&format!("slow {i}"), json!({})))
            .await
            .unwrap();
    }
    // The slow tenant's deliveries are under way.
    let busy = eventually(Duration::from_secs(5), || async {
        (endless.received().len() + silent.received().len() >= 4).then_some(())
    })
    .await;
    assert!(busy.is_some(), "the slow tenant's deliveries did not start");

    // Another tenant's delivery goes out while the silent receiver still holds its callers.
    id.api
        .create_agent(&prompt, &agent_body("prompt", json!({})))
        .await
        .unwrap();
    let arrived = eventually(Duration::from_secs(5), || async {
        (!rx.received().is_empty()).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "the other tenant's delivery never came");
    let waiting = deliveries(&id, &slow, &silent_hook).await;
    assert!(
        waiting.iter().all(|d| d["attempts"] == 0),
        "the other tenant waited for the slow receivers to time out: {waiting:?}"
    );
    assert!(silent.open() >= 1);
    let delivered = eventually(Duration::from_secs(2), || async {
        let d = deliveries(&id, &prompt, &hook).await;
        (d.len() == 1 && d[0]["status"] == "delivered").then_some(())
    })
    .await;
    assert!(delivered.is_some());

    // The endless answer was cut after a few KiB: recorded as a failure with an excerpt,
    // long before the timeout, and the receiver could write only what the sockets buffer.
    let cut = eventually(Duration::from_secs(2), || async {
        let d = deliveries(&id, &slow, &endless_hook).await;
        d.iter().all(|d| d["attempts"] == 1).then_some(d)
    })
    .await
    .expect("the endless answers were not recorded");
    assert_eq!(cut.len(), 2);
    for d in &cut {
        assert_eq!(d["last_status_code"], 500, "{d}");
        let history = attempts(&id, &slow, &endless_hook, d).await;
        assert!(
            history[0]["duration_ms"].as_u64().unwrap() < TIMEOUT_MS / 2,
            "{d}"
        );
        let error = d["last_error"].as_str().unwrap();
        assert!(error.starts_with("receiver answered 500: xxx"), "{error}");
        assert!(error.len() < 300, "{error}");
    }
    let sent = endless.body_bytes_sent();
    assert!(
        sent < testkit::receiver::ENDLESS_CAP / 16,
        "the endless body was read on: {sent} bytes sent"
    );

    // The silent receiver's callers give up at the timeout and record why.
    let timed_out = eventually(Duration::from_millis(TIMEOUT_MS * 3), || async {
        let d = deliveries(&id, &slow, &silent_hook).await;
        let done: Vec<Value> = d.into_iter().filter(|d| d["attempts"] == 1).collect();
        (done.len() >= 2).then_some(done)
    })
    .await
    .expect("the silent receiver's deliveries never timed out");
    for d in &timed_out {
        assert_eq!(d["status"], "pending", "{d}");
        assert!(d["last_status_code"].is_null(), "{d}");
        assert!(
            d["last_error"].as_str().unwrap().starts_with("timed out"),
            "{d}"
        );
        let history = attempts(&id, &slow, &silent_hook, d).await;
        let took = history[0]["duration_ms"].as_u64().unwrap();
        assert!(
            (TIMEOUT_MS - 100..TIMEOUT_MS + 1000).contains(&took),
            "{took} ms"
        );
    }
}

#[tokio::test]
async fn deliveries_never_go_through_a_proxy_named_by_the_environment() {
    let env = TestEnv::new().await.unwrap();
    // What a proxy would receive; the real receiver must get the delivery instead.
    let proxy = Receiver::start(0).await.unwrap();
    let proxy_url = proxy.url().trim_end_matches("/hook").to_owned();
    let vars = env.env_with(&[
        ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("WEBHOOK_POLL_INTERVAL_MS", "20"),
        ("HTTP_PROXY", &proxy_url),
        ("http_proxy", &proxy_url),
        ("HTTPS_PROXY", &proxy_url),
        ("ALL_PROXY", &proxy_url),
    ]);
    let child = testkit::process::ChildService::start(env!("CARGO_BIN_EXE_identity"), &vars)
        .await
        .unwrap();
    let api = testkit::identity::IdentityClient::new(&child.base_url);
    let tenant = api.signup("Proxied").await.unwrap();
    let admin = api.admin_token(&tenant).await.unwrap();
    let rx = Receiver::start(0).await.unwrap();
    let res = api
        .http
        .post_json(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": rx.url(), "event_types": ["agent.created"]}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    api.create_agent(&admin, &agent_body("direct", json!({})))
        .await
        .unwrap();
    // (Other outgoing calls of identity are not deliveries; only the hook counts here.)
    let proxied = || {
        proxy
            .received()
            .into_iter()
            .filter(|r| r.request_line.contains(&rx.url()))
            .count()
    };
    let arrived = eventually(Duration::from_secs(5), || async {
        (!rx.received().is_empty() || proxied() > 0).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "the delivery went nowhere");
    assert_eq!(proxied(), 0, "the delivery went through the proxy");
    assert_eq!(rx.received().len(), 1);
}
