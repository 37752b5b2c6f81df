//! `POST /api/v1/billing/webhooks/stripe`: signatures, dedupe, ordering.

use testkit::TestEnv;
use testkit::stripe::{self, unix_now};

use crate::helpers::{PRICE_ENTERPRISE, PRICE_PRO, WEBHOOK_SECRET, count, stack, sub_event};

#[tokio::test]
async fn an_event_signed_with_stripes_scheme_is_accepted_and_applied() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Signed Co").await;
    assert_eq!(s.tier(&a).await, "free");

    let now = unix_now();
    let ev = sub_event(
        "evt_sig_ok",
        "customer.subscription.created",
        now,
        "sub_sig_ok",
        a.id,
        PRICE_PRO,
        "active",
    );
    let res = s.deliver(&ev).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["duplicate"], false);
    assert_eq!(s.tier(&a).await, "pro");
    let sub = s
        .billing_get("/api/v1/billing/subscription", &a.token)
        .await
        .json();
    assert_eq!(sub["subscription"]["id"], "sub_sig_ok");
    assert_eq!(sub["subscription"]["status"], "active");
    assert_eq!(sub["subscription"]["price_id"], PRICE_PRO);
    assert!(sub["subscription"]["current_period_end"].is_string());
    assert_eq!(sub["limits"]["max_agents"], 1000);

    // Other services read the same tier through the internal API.
    let svc = s.service_token("analytics").await;
    let e = s
        .billing_get(&format!("/internal/v1/entitlements/{}", a.id), &svc)
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    assert_eq!(e.json()["tier"], "pro");
    assert_eq!(e.json()["limits"]["api_calls_per_day"], 100_000);
}

#[tokio::test]
async fn bad_signatures_are_refused_with_nothing_stored() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Forged Co").await;
    let now = unix_now();
    let ev = sub_event(
        "evt_forged",
        "customer.subscription.created",
        now,
        "sub_forged",
        a.id,
        PRICE_ENTERPRISE,
        "active",
    );
    let tampered = ev.replace(PRICE_ENTERPRISE, PRICE_PRO);
    let cases = [
        (
            "wrong secret",
            ev.clone(),
            stripe::sign(&ev, "whsec_someone_elses_secret_0", now),
        ),
        (
            "stale timestamp",
            ev.clone(),
            stripe::sign(&ev, WEBHOOK_SECRET, now - 301),
        ),
        (
            "future timestamp",
            ev.clone(),
            stripe::sign(&ev, WEBHOOK_SECRET, now + 400),
        ),
        (
            "modified body",
            tampered,
            stripe::sign(&ev, WEBHOOK_SECRET, now),
        ),
        ("no v1", ev.clone(), format!("t={now}")),
        ("missing header", ev.clone(), String::new()),
    ];
    for (what, body, sig) in cases {
        let res = s.deliver_signed(&body, &sig).await;
        assert_eq!(res.status, 400, "{what}: {}", res.body);
        assert_eq!(
            res.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        assert_eq!(res.json()["code"], "invalid_signature", "{what}");
    }
    assert_eq!(count(&env, "stripe_events").await, 0);
    assert_eq!(count(&env, "tenant_subscriptions").await, 0);
    assert_eq!(s.tier(&a).await, "free");

    // A correctly signed body that is not an event is refused, and nothing is stored either.
    let junk = r#"{"hello": "world"}"#;
    let res = s.deliver(junk).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["code"], "malformed_event");
    assert_eq!(count(&env, "stripe_events").await, 0);
}

#[tokio::test]
async fn the_same_event_twice_counts_once() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Twice Co").await;
    let now = unix_now();
    let created = sub_event(
        "evt_twice_1",
        "customer.subscription.created",
        now - 10,
        "sub_twice",
        a.id,
        PRICE_PRO,
        "active",
    );
    let cancelled_later = sub_event(
        "evt_twice_2",
        "customer.subscription.updated",
        now,
        "sub_twice",
        a.id,
        PRICE_PRO,
        "unpaid",
    );
    assert_eq!(s.deliver(&created).await.status, 200);
    assert_eq!(s.deliver(&cancelled_later).await.status, 200);
    assert_eq!(s.tier(&a).await, "free");
    // Redelivering the older event (Stripe retries) must not bring the old state back.
    let again = s.deliver(&created).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(s.tier(&a).await, "free");
    // Concurrent redeliveries of one event: one applies, the others are duplicates.
    let fresh = sub_event(
        "evt_twice_3",
        "customer.subscription.updated",
        now + 5,
        "sub_twice",
        a.id,
        PRICE_PRO,
        "active",
    );
    let (r1, r2, r3) = tokio::join!(s.deliver(&fresh), s.deliver(&fresh), s.deliver(&fresh));
    let dups = [&r1, &r2, &r3]
        .iter()
        .filter(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()["duplicate"] == true
        })
        .count();
    assert_eq!(dups, 2);
    assert_eq!(count(&env, "stripe_events").await, 3);
    assert_eq!(count(&env, "tenant_subscriptions").await, 1);
    assert_eq!(s.tier(&a).await, "pro");
}

#[tokio::test]
async fn deleted_before_updated_ends_cancelled() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Order Co").await;
    let t0 = unix_now() - 100;
    let sub = "sub_order";
    let ev = |id: &str, kind: &str, at: i64, status: &str| {
        sub_event(id, kind, at, sub, a.id, PRICE_PRO, status)
    };
    // Stripe sent: created (t0), updated (t0+10), deleted (t0+20); we receive deleted first.
    let deleted = ev(
        "evt_o3",
        "customer.subscription.deleted",
        t0 + 20,
        "canceled",
    );
    let updated = ev("evt_o2", "customer.subscription.updated", t0 + 10, "active");
    let created = ev("evt_o1", "customer.subscription.created", t0, "active");
    for e in [&deleted, &updated, &created] {
        let res = s.deliver(e).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let body = s
        .billing_get("/api/v1/billing/subscription", &a.token)
        .await
        .json();
    assert_eq!(body["tier"], "free");
    assert_eq!(body["subscription"]["status"], "canceled");
    // Deletion is final for the subscription id, even against a (bogus) newer update.
    let late = ev("evt_o4", "customer.subscription.updated", t0 + 60, "active");
    assert_eq!(s.deliver(&late).await.status, 200);
    assert_eq!(s.tier(&a).await, "free");
    // A new subscription of the same tenant works as usual.
    let other = sub_event(
        "evt_o5",
        "customer.subscription.created",
        t0 + 70,
        "sub_order_2",
        a.id,
        PRICE_ENTERPRISE,
        "active",
    );
    assert_eq!(s.deliver(&other).await.status, 200);
    assert_eq!(s.tier(&a).await, "enterprise");
}

#[tokio::test]
async fn out_of_order_updates_end_in_the_newest_state() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Newest Co").await;
    let t0 = unix_now() - 100;
    let newer = sub_event(
        "evt_n2",
        "customer.subscription.updated",
        t0 + 30,
        "sub_newest",
        a.id,
        PRICE_ENTERPRISE,
        "active",
    );
    let older = sub_event(
        "evt_n1",
        "customer.subscription.updated",
        t0,
        "sub_newest",
        a.id,
        PRICE_PRO,
        "active",
    );
    let failed_old = stripe::event(
        "evt_n0",
        "invoice.payment_failed",
        t0 - 5,
        serde_json::json!({"id": "in_1", "object": "invoice", "subscription": "sub_newest"}),
    );
    for e in [&newer, &older, &failed_old] {
        assert_eq!(s.deliver(e).await.status, 200);
    }
    let body = s
        .billing_get("/api/v1/billing/subscription", &a.token)
        .await
        .json();
    assert_eq!(body["tier"], "enterprise");
    assert_eq!(body["subscription"]["status"], "active");
    // A newer failed payment does apply (past_due keeps the tier while Stripe retries).
    let failed_new = stripe::event(
        "evt_n3",
        "invoice.payment_failed",
        t0 + 40,
        serde_json::json!({"id": "in_2", "object": "invoice",
                           "parent": {"subscription_details": {"subscription": "sub_newest"}}}),
    );
    assert_eq!(s.deliver(&failed_new).await.status, 200);
    let body = s
        .billing_get("/api/v1/billing/subscription", &a.token)
        .await
        .json();
    assert_eq!(body["subscription"]["status"], "past_due");
    assert_eq!(body["tier"], "enterprise");
}
