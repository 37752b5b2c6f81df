//! Webhooks: signed deliveries, retries with backoff, dead letters, history, the SSRF
//! guard, tenant isolation.

use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use serde_json::{Value, json};
use testkit::identity::agent_body;
use testkit::receiver::{Received, Receiver};
use testkit::{TestEnv, eventually};

use crate::helpers::{Identity, World, count, spawn, world};

const FAST: [(&str, &str); 4] = [
    ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
    ("WEBHOOK_POLL_INTERVAL_MS", "20"),
    ("WEBHOOK_RETRY_BASE_MS", "20"),
    ("WEBHOOK_RETRY_MAX_MS", "160"),
];

async fn subscribe(id: &Identity, w: &World, url: &str, types: &[&str]) -> Value {
    let res = id
        .app
        .client
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": url, "event_types": types}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()
}

/// Checks the signature header the way a receiver would, with its own HMAC.
fn signature_holds(secret: &str, r: &Received) -> bool {
    let Some(header) = r.headers.get("x-agentidp-signature") else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_owned()),
            Some(("v1", v)) => v1 = Some(v.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = t.into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&r.body);
    let expected = hex::encode(hmac::sign(&key, &signed).as_ref());
    constant_time::verify_slices_are_equal(expected.as_bytes(), v1.as_bytes()).is_ok()
}

async fn received(rx: &Receiver, n: usize) -> Vec<Received> {
    eventually(Duration::from_secs(15), || async {
        let got = rx.received();
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("expected {n} requests, got {}", rx.received().len()))
}

async fn delivery(id: &Identity, w: &World, hook: &str) -> Value {
    let res = id
        .app
        .client
        .get_auth(&format!("/api/v1/webhooks/{hook}/deliveries"), &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let list = res.json()["data"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    let one = id
        .app
        .client
        .get_auth(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}",
                list[0]["id"].as_str().unwrap()
            ),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(one.status, 200);
    one.json()
}

#[tokio::test]
async fn subscribed_events_arrive_signed_and_others_do_not() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &FAST).await;
    let w = world(&id, "Hooked").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = subscribe(&id, &w, &rx.url(), &["agent.created", "agent.suspended"]).await;
    let secret = hook["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));

    let agent = id
        .api
        .create_agent(&w.admin, &agent_body("hooked agent", json!({})))
        .await
        .unwrap();
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let got = received(&rx, 1).await;
    let r = &got[0];
    assert!(signature_holds(secret, r), "{:?}", r.headers);
    assert!(!signature_holds("whsec_wrong", r));
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["x-agentidp-event"], "agent.created");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], "agent.created");
    assert_eq!(body["tenant_id"], w.tenant.id.as_str());
    assert_eq!(body["data"]["agent"]["id"], agent["id"]);
    assert_eq!(
        r.headers["x-agentidp-event-id"],
        body["id"].as_str().unwrap()
    );

    let d = delivery(&id, &w, hook["id"].as_str().unwrap()).await;
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["attempt_history"][0]["status_code"], 200);
    assert_eq!(r.headers["x-agentidp-delivery"], d["id"].as_str().unwrap());

    // The secret is never shown again; token events were not subscribed.
    let listed = id
        .app
        .client
        .get_auth("/api/v1/webhooks", &w.admin)
        .await
        .unwrap();
    assert!(!listed.body.contains("whsec_"));
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_growing_waits_then_a_dead_letter() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &FAST).await;
    let w = world(&id, "Dead Letter").await;
    // Fails the first ten requests: all ten attempts of the first round.
    let rx = Receiver::start(10).await.unwrap();
    let hook = subscribe(&id, &w, &rx.url(), &["agent.created"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    id.api
        .create_agent(&w.admin, &agent_body("unlucky", json!({})))
        .await
        .unwrap();
    let got = received(&rx, 10).await;
    let dead = eventually(Duration::from_secs(10), || async {
        let d = delivery(&id, &w, &hook_id).await;
        (d["status"] == "dead").then_some(d)
    })
    .await
    .expect("dead-lettered after ten attempts");
    assert_eq!(dead["attempts"], 10);
    let history = dead["attempt_history"].as_array().unwrap();
    assert_eq!(history.len(), 10);
    assert!(history.iter().all(|a| a["status_code"] == 500));
    assert!(dead["last_error"].as_str().unwrap().contains("500"));
    assert_eq!(rx.received().len(), 10, "no attempt after the dead letter");

    // Every attempt carries the same event, byte for byte, validly signed; waits grow.
    let secret = hook["secret"].as_str().unwrap();
    for r in &got {
        assert_eq!(r.body, got[0].body);
        assert!(signature_holds(secret, r));
    }
    let base = Duration::from_millis(20);
    for (k, pair) in got.windows(2).enumerate() {
        let expected = (base * 2_u32.pow(k as u32)).min(Duration::from_millis(160));
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= expected, "wait {k}: {gap:?} < {expected:?}");
    }

    // A dead letter can be redelivered by hand; the receiver now accepts it.
    let res = id
        .app
        .client
        .post_json(
            &format!(
                "/api/v1/webhooks/{hook_id}/deliveries/{}/redeliver",
                dead["id"].as_str().unwrap()
            ),
            Some(&w.admin),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 202, "{}", res.body);
    let done = eventually(Duration::from_secs(10), || async {
        let d = delivery(&id, &w, &hook_id).await;
        (d["status"] == "delivered").then_some(d)
    })
    .await
    .expect("redelivered");
    assert_eq!(done["attempt_history"].as_array().unwrap().len(), 11);
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_the_event_on_the_fourth_attempt() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &FAST).await;
    let w = world(&id, "Flaky").await;
    let rx = Receiver::start(3).await.unwrap();
    let hook = subscribe(&id, &w, &rx.url(), &["agent.created"]).await;
    id.api
        .create_agent(&w.admin, &agent_body("eventually", json!({})))
        .await
        .unwrap();
    let got = received(&rx, 4).await;
    let statuses: Vec<u16> = got.iter().map(|r| r.answered).collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    let d = eventually(Duration::from_secs(10), || async {
        let d = delivery(&id, &w, hook["id"].as_str().unwrap()).await;
        (d["status"] == "delivered").then_some(d)
    })
    .await
    .unwrap();
    assert_eq!(d["attempts"], 4);
    assert!(
        got.iter()
            .all(|r| r.headers["x-agentidp-delivery"] == d["id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn private_loopback_and_link_local_targets_are_refused() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "SSRF").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.0.0.7/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
    ] {
        let res = id
            .app
            .client
            .post_json(
                "/api/v1/webhooks",
                Some(&w.admin),
                &json!({"url": url, "event_types": ["agent.created"]}),
            )
            .await
            .unwrap();
        assert_eq!(res.status, 422, "{url}: {}", res.body);
        assert_eq!(res.json()["errors"][0]["field"], "url", "{url}");
    }
    for (body, field) in [
        (
            json!({"url": "https://8.8.8.8/h", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://8.8.8.8/h", "event_types": ["agent.exploded"]}),
            "event_types",
        ),
        (
            json!({"url": "ftp://8.8.8.8/h", "event_types": ["agent.created"]}),
            "url",
        ),
        (
            json!({"url": "https://8.8.8.8/h", "event_types": ["agent.created"], "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let res = id
            .app
            .client
            .post_json("/api/v1/webhooks", Some(&w.admin), &body)
            .await
            .unwrap();
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(res.body.contains(field), "{}", res.body);
    }
    let res = id
        .app
        .client
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": "https://8.8.8.8/h", "event_types": ["agent.created"], "colour": "red"}),
        )
        .await
        .unwrap();
    assert!(res.status == 400 || res.status == 422, "{}", res.body);
    assert_eq!(count(&env, "identity.webhooks").await, 0, "nothing stored");
}

#[tokio::test]
async fn subscriptions_belong_to_their_tenant_and_need_webhook_scopes() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &FAST).await;
    let w = world(&id, "Owner").await;
    let other = world(&id, "Stranger").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = subscribe(&id, &w, &rx.url(), &["agent.created"]).await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());
    let c = &id.app.client;
    assert_eq!(c.get_auth(&path, &other.admin).await.unwrap().status, 404);
    assert_eq!(
        c.get_auth(&format!("{path}/deliveries"), &other.admin)
            .await
            .unwrap()
            .status,
        404
    );
    let patched = id
        .api
        .patch(&path, &other.admin, &json!({"active": false}))
        .await
        .unwrap();
    assert_eq!(patched.status, 404);
    assert_eq!(
        id.api.delete(&path, &other.admin).await.unwrap().status,
        404
    );
    let agent_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    assert_eq!(
        c.get_auth("/api/v1/webhooks", &agent_token)
            .await
            .unwrap()
            .status,
        403
    );

    // The owner can change, rotate and delete it.
    let patched = id
        .api
        .patch(
            &path,
            &w.admin,
            &json!({"event_types": ["agent.suspended", "agent.suspended"], "active": false}),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["event_types"], json!(["agent.suspended"]));
    assert_eq!(patched.json()["active"], false);
    let rotated = c
        .post_json(&format!("{path}/rotate-secret"), Some(&w.admin), &json!({}))
        .await
        .unwrap();
    assert_eq!(rotated.status, 200);
    assert_ne!(rotated.json()["secret"], hook["secret"]);
    assert_eq!(id.api.delete(&path, &w.admin).await.unwrap().status, 204);
    assert_eq!(c.get_auth(&path, &w.admin).await.unwrap().status, 404);
    assert_eq!(
        count(&env, "identity.audit_events WHERE action LIKE 'webhook.%'").await,
        4
    );
}

#[tokio::test]
async fn after_a_rotation_deliveries_are_signed_with_the_new_secret_only() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &FAST).await;
    let w = world(&id, "Rotated").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = subscribe(&id, &w, &rx.url(), &["agent.created"]).await;
    let rotated = id
        .app
        .client
        .post_json(
            &format!(
                "/api/v1/webhooks/{}/rotate-secret",
                hook["id"].as_str().unwrap()
            ),
            Some(&w.admin),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_owned();
    id.api
        .create_agent(&w.admin, &agent_body("after rotation", json!({})))
        .await
        .unwrap();
    let got = received(&rx, 1).await;
    assert!(signature_holds(&new_secret, &got[0]));
    assert!(!signature_holds(hook["secret"].as_str().unwrap(), &got[0]));
}
