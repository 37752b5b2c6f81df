//! Checkout, upgrade, the tier table and `BILLING_ENABLED`.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::stripe::unix_now;
use testkit::{TestEnv, free_port};

use crate::helpers::{PRICE_ENTERPRISE, PRICE_PRO, STRIPE_KEY, stack};

#[tokio::test]
async fn checkout_creates_a_session_for_the_tiers_price() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Checkout Co").await;
    let res = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "pro"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with("https://checkout.stripe.com/"), "{url}");
    assert!(body["id"].as_str().unwrap().starts_with("cs_test_"));
    assert_eq!(body["tier"], "pro");

    let reqs = s.stripe.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    let tenant = a.id.to_string();
    assert_eq!(r.field("mode"), Some("subscription"));
    assert_eq!(r.field("line_items[0][price]"), Some(PRICE_PRO));
    assert_eq!(r.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(r.field("client_reference_id"), Some(tenant.as_str()));
    assert_eq!(r.field("metadata[tenant_id]"), Some(tenant.as_str()));
    assert_eq!(r.field("metadata[tier]"), Some("pro"));
    assert_eq!(r.field("metadata[price_id]"), Some(PRICE_PRO));
    assert_eq!(
        r.field("subscription_data[metadata][tenant_id]"),
        Some(tenant.as_str())
    );
    assert_eq!(r.field("subscription_data[metadata][tier]"), Some("pro"));
    assert!(
        r.field("success_url")
            .unwrap()
            .starts_with("http://localhost:8080/")
    );
    assert!(
        r.field("cancel_url")
            .unwrap()
            .starts_with("http://localhost:8080/")
    );
    // A tenant that never paid has no customer yet: Checkout creates one.
    assert_eq!(r.field("customer"), None);
    assert!(r.idempotency_key.is_some());
    // The client pins the API version it decodes answers with.
    assert!(r.stripe_version.as_deref().is_some_and(|v| !v.is_empty()));

    // A second checkout is a new call with its own idempotency key.
    let again = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "enterprise"}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let reqs = s.stripe.requests();
    assert_eq!(reqs.len(), 2);
    assert_ne!(reqs[0].idempotency_key, reqs[1].idempotency_key);
    assert_eq!(reqs[1].field("metadata[tier]"), Some("enterprise"));
}

#[tokio::test]
async fn bad_checkout_input_and_downgrades_are_refused_without_calling_stripe() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Picky Co").await;
    let cases = [
        (json!({"tier": "gold"}), 422, "validation_failed"),
        (json!({"tier": "free"}), 422, "validation_failed"),
        (
            json!({"tier": "pro", "coupon": "x"}),
            422,
            "validation_failed",
        ),
        (json!({}), 422, "validation_failed"),
    ];
    for (body, status, code) in cases {
        for path in ["/api/v1/billing/checkout", "/api/v1/billing/upgrade"] {
            let res = s.billing_post(path, &a.token, &body).await;
            assert_eq!(res.status, status, "{path} {body}: {}", res.body);
            assert_eq!(res.json()["code"], code);
            assert!(res.json()["errors"][0]["field"].is_string(), "{}", res.body);
        }
    }
    // Without a token, or without billing:write.
    let res = s
        .billing
        .client
        .post_json("/api/v1/billing/checkout", None, &json!({"tier": "pro"}))
        .await
        .unwrap();
    assert_eq!(res.status, 401);

    // On enterprise (through Stripe's webhook), pro is a downgrade and enterprise no change.
    let ev = crate::helpers::sub_event(
        "evt_picky",
        "customer.subscription.created",
        unix_now(),
        "sub_picky",
        a.id,
        PRICE_ENTERPRISE,
        "active",
    );
    assert_eq!(s.deliver(&ev).await.status, 200);
    for path in ["/api/v1/billing/checkout", "/api/v1/billing/upgrade"] {
        let res = s
            .billing_post(path, &a.token, &json!({"tier": "pro"}))
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert_eq!(res.json()["code"], "downgrade_not_allowed");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let res = s
            .billing_post(path, &a.token, &json!({"tier": "enterprise"}))
            .await;
        assert_eq!(res.status, 409, "{}", res.body);
        assert_eq!(res.json()["code"], "already_on_tier");
    }
    assert!(s.stripe.requests().is_empty());
}

#[tokio::test]
async fn upgrade_moves_a_paid_subscription_to_the_new_price() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Growing Co").await;
    // Free: an upgrade starts a checkout.
    let res = s
        .billing_post("/api/v1/billing/upgrade", &a.token, &json!({"tier": "pro"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["status"], "checkout_required");
    let session = res.json()["checkout"]["id"].as_str().unwrap().to_owned();
    let (sub_id, events) = s.stripe.complete_checkout(&session, unix_now()).unwrap();
    for e in &events {
        let r = s.deliver(e).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(s.tier(&a).await, "pro");

    // Pro: the subscription's item moves to the enterprise price.
    let res = s
        .billing_post(
            "/api/v1/billing/upgrade",
            &a.token,
            &json!({"tier": "enterprise"}),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(res.json()["subscription_id"], sub_id.as_str());
    let last = s.stripe.requests().pop().unwrap();
    assert_eq!(last.path, format!("/v1/subscriptions/{sub_id}"));
    assert_eq!(last.field("items[0][price]"), Some(PRICE_ENTERPRISE));
    assert!(last.field("items[0][id]").unwrap().starts_with("si_"));
    assert_eq!(last.field("proration_behavior"), Some("create_prorations"));
    assert!(last.idempotency_key.is_some());
    // Until Stripe confirms, the tier stays.
    assert_eq!(s.tier(&a).await, "pro");

    // A checkout for a tenant that has paid before reuses its Stripe customer.
    let customer = s.stripe.requests()[0].field("customer").map(str::to_owned);
    assert_eq!(customer, None, "the first checkout had no customer");
    let res = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "enterprise"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let last = s.stripe.requests().pop().unwrap();
    assert_eq!(last.path, "/v1/checkout/sessions");
    assert!(
        last.field("customer")
            .is_some_and(|c| c.starts_with("cus_")),
        "{:?}",
        last.form
    );
}

#[tokio::test]
async fn stripe_errors_are_a_502_and_not_our_500() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("STRIPE_SECRET_KEY", "sk_test_not_the_fakes_key")]).await;
    let a = s.account("Unlucky Co").await;
    let res = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "pro"}),
        )
        .await;
    assert_eq!(res.status, 502, "{}", res.body);
    assert_eq!(res.json()["code"], "payment_provider_error");
    assert!(!res.body.contains(STRIPE_KEY) && !res.body.contains("sk_test"));

    // A subscription Stripe does not know (here: one only seen in a webhook) is Stripe's 404
    // on the price change: a provider error for us too.
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Unknown Sub Co").await;
    let ev = crate::helpers::sub_event(
        "evt_unknown",
        "customer.subscription.created",
        unix_now(),
        "sub_unknown_to_stripe",
        a.id,
        PRICE_PRO,
        "active",
    );
    assert_eq!(s.deliver(&ev).await.status, 200);
    let res = s
        .billing_post(
            "/api/v1/billing/upgrade",
            &a.token,
            &json!({"tier": "enterprise"}),
        )
        .await;
    assert_eq!(res.status, 502, "{}", res.body);
    assert_eq!(res.json()["code"], "payment_provider_error");
    let last = s.stripe.requests().pop().unwrap();
    assert_eq!(last.path, "/v1/subscriptions/sub_unknown_to_stripe");
}

#[tokio::test]
async fn a_slow_or_unreachable_stripe_is_a_502_and_no_key_a_503() {
    // Slower than STRIPE_TIMEOUT_MS: the call is abandoned at the timeout.
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("STRIPE_TIMEOUT_MS", "300")]).await;
    let a = s.account("Patient Co").await;
    s.stripe.set_delay(Duration::from_secs(5));
    let started = Instant::now();
    let res = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "pro"}),
        )
        .await;
    assert_eq!(res.status, 502, "{}", res.body);
    assert_eq!(res.json()["code"], "payment_provider_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(!res.body.contains(STRIPE_KEY));

    // Nothing listening at STRIPE_API_BASE.
    let env = TestEnv::new().await.unwrap();
    let closed = format!("http://127.0.0.1:{}", free_port().unwrap());
    let s = stack(&env, &[("STRIPE_API_BASE", &closed)]).await;
    let a = s.account("Offline Co").await;
    let res = s
        .billing_post(
            "/api/v1/billing/checkout",
            &a.token,
            &json!({"tier": "pro"}),
        )
        .await;
    assert_eq!(res.status, 502, "{}", res.body);
    assert_eq!(res.json()["code"], "payment_provider_unavailable");
    assert!(!res.body.contains(STRIPE_KEY));

    // No STRIPE_SECRET_KEY: payments are off, nothing is sent.
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("STRIPE_SECRET_KEY", "")]).await;
    let a = s.account("Keyless Co").await;
    for path in ["/api/v1/billing/checkout", "/api/v1/billing/upgrade"] {
        let res = s
            .billing_post(path, &a.token, &json!({"tier": "pro"}))
            .await;
        assert_eq!(res.status, 503, "{path}: {}", res.body);
        assert_eq!(res.json()["code"], "stripe_not_configured");
    }
    assert!(s.stripe.requests().is_empty());
}

#[tokio::test]
async fn tiers_are_public_and_billing_can_be_switched_off() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let res = s.billing.client.get("/api/v1/billing/tiers").await.unwrap();
    assert_eq!(res.status, 200);
    let tiers = res.json()["tiers"].as_array().unwrap().clone();
    let names: Vec<&str> = tiers.iter().map(|t| t["tier"].as_str().unwrap()).collect();
    assert_eq!(names, ["free", "pro", "enterprise"]);
    assert_eq!(tiers[0]["limits"]["max_agents"], 10);
    assert_eq!(tiers[0]["limits"]["api_calls_per_day"], 1000);
    assert_eq!(tiers[0]["limits"]["token_issuances_per_day"], 1000);
    assert_eq!(tiers[0]["limits"]["requests_per_minute"], 100);
    assert_eq!(tiers[1]["limits"]["max_agents"], 1000);
    assert_eq!(tiers[1]["limits"]["requests_per_minute"], 1000);
    assert!(tiers[2]["limits"]["max_agents"].is_null());
    assert_eq!(tiers[1]["purchasable"], true);

    let env = TestEnv::new().await.unwrap();
    let off = stack(&env, &[("BILLING_ENABLED", "false")]).await;
    let a = off.account("Off Co").await;
    for path in [
        "/api/v1/billing/tiers",
        "/api/v1/billing/subscription",
        "/internal/v1/usage",
    ] {
        let res = off.billing_get(path, &a.token).await;
        assert_eq!(res.status, 404, "{path}: {}", res.body);
    }
    let res = off.deliver("{}").await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn a_past_due_subscription_cannot_be_upgraded_until_it_is_paid() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Overdue Co").await;
    let res = s
        .billing_post("/api/v1/billing/upgrade", &a.token, &json!({"tier": "pro"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let session = res.json()["checkout"]["id"].as_str().unwrap().to_owned();
    let now = unix_now();
    let (sub_id, events) = s.stripe.complete_checkout(&session, now - 60).unwrap();
    for e in &events {
        assert_eq!(s.deliver(e).await.status, 200);
    }
    assert_eq!(s.tier(&a).await, "pro");

    let invoice = |kind: &str, created: i64| {
        let id = format!("evt_{kind}");
        let invoice = json!({"id": "in_overdue", "object": "invoice", "subscription": sub_id});
        testkit::stripe::event(&id, kind, created, invoice)
    };
    // The renewal fails: Stripe retries, the tenant keeps pro meanwhile, but buys nothing more.
    let failed = invoice("invoice.payment_failed", now - 30);
    assert_eq!(s.deliver(&failed).await.status, 200);
    assert_eq!(s.tier(&a).await, "pro");
    let calls = s.stripe.requests().len();
    for path in ["/api/v1/billing/upgrade", "/api/v1/billing/checkout"] {
        let res = s
            .billing_post(path, &a.token, &json!({"tier": "enterprise"}))
            .await;
        assert_eq!(res.status, 409, "{path}: {}", res.body);
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let body = res.json();
        assert_eq!(body["code"], "subscription_past_due", "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("past due"),
            "{body}"
        );
        assert_eq!(body["subscription_id"], sub_id.as_str(), "{body}");
    }
    assert_eq!(s.stripe.requests().len(), calls, "Stripe was called");
    assert_eq!(s.tier(&a).await, "pro");

    // Paid: the upgrade goes through again.
    let paid = invoice("invoice.payment_succeeded", now - 10);
    assert_eq!(s.deliver(&paid).await.status, 200);
    let res = s
        .billing_post(
            "/api/v1/billing/upgrade",
            &a.token,
            &json!({"tier": "enterprise"}),
        )
        .await;
    assert_eq!(res.status, 202, "{}", res.body);
}
