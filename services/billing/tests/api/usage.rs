//! Usage metering: batches, retries, periodic and shutdown flushes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use domain::usage::UsageBatch;
use platform::auth::BoxFuture;
use platform::metering::{Flusher, HttpSink, Metering, Metric, UsageSink};
use serde_json::json;
use testkit::identity::agent_body;
use testkit::process::ChildService;
use testkit::{TestEnv, eventually};
use uuid::Uuid;

use crate::helpers::{billing_env, count, stack, usage_sum};

fn batch(id: Uuid, tenant: Uuid, day: &str, calls: u64) -> serde_json::Value {
    json!({"batch_id": id, "service": "analytics", "entries": [
        {"tenant_id": tenant, "day": day, "metric": "api_calls", "count": calls},
        {"tenant_id": tenant, "day": day, "metric": "token_issuances", "count": 2},
    ]})
}

#[tokio::test]
async fn a_batch_is_counted_once_however_often_it_is_sent() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let svc = s.service_token("analytics").await;
    let tenant = Uuid::new_v4();
    let id = Uuid::new_v4();
    let body = batch(id, tenant, "2026-11-02", 40);
    let first = s.billing_post("/internal/v1/usage", &svc, &body).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.json()["duplicate"], false);
    for _ in 0..3 {
        let again = s.billing_post("/internal/v1/usage", &svc, &body).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.json()["duplicate"], true);
    }
    assert_eq!(usage_sum(&env, tenant, "api_calls").await, 40);
    assert_eq!(usage_sum(&env, tenant, "token_issuances").await, 2);
    // Another batch of the same day adds up.
    let more = batch(Uuid::new_v4(), tenant, "2026-11-02", 2);
    assert_eq!(
        s.billing_post("/internal/v1/usage", &svc, &more)
            .await
            .status,
        200
    );
    assert_eq!(usage_sum(&env, tenant, "api_calls").await, 42);
}

#[tokio::test]
async fn bad_batches_and_callers_are_refused_with_nothing_stored() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let svc = s.service_token("analytics").await;
    let a = s.account("Sneaky Co").await;
    let tenant = Uuid::new_v4();
    let bad = json!({"batch_id": Uuid::new_v4(), "service": "analytics", "entries": [
        {"tenant_id": tenant, "day": "2026-13-40", "metric": "api_calls", "count": 1},
        {"tenant_id": tenant, "day": "2026-11-02", "metric": "api_calls", "count": 0},
    ]});
    let res = s.billing_post("/internal/v1/usage", &svc, &bad).await;
    assert_eq!(res.status, 422, "{}", res.body);
    let problem = res.json();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["entries[0].day", "entries[1].count"]);
    let res = s
        .billing_post(
            "/internal/v1/usage",
            &svc,
            &json!({"batch_id": Uuid::new_v4(), "service": "x", "entries": [
                {"tenant_id": tenant, "day": "2026-11-02", "metric": "logins", "count": 1}]}),
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(res.json()["errors"][0]["field"], "entries[0].metric");
    // A tenant's token has no `internal` scope; no token at all is 401.
    let ok = batch(Uuid::new_v4(), tenant, "2026-11-02", 1);
    let res = s.billing_post("/internal/v1/usage", &a.token, &ok).await;
    assert_eq!(res.status, 403, "{}", res.body);
    let res = s
        .billing_for("/internal/v1/usage")
        .post_json("/internal/v1/usage", None, &ok)
        .await
        .unwrap();
    assert_eq!(res.status, 401);
    let res = s
        .billing_get(&format!("/internal/v1/entitlements/{tenant}"), &a.token)
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(count(&env, "usage_batches").await, 0);
    assert_eq!(count(&env, "usage_events").await, 0);
}

/// Delivers to billing, then reports a failure the first time: billing committed but the
/// answer was lost, as when the response times out.
struct LostAnswer {
    inner: HttpSink,
    lose_next: AtomicBool,
    ids: std::sync::Mutex<Vec<Uuid>>,
}

impl UsageSink for LostAnswer {
    fn record<'a>(&'a self, batch: &'a UsageBatch) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.ids.lock().unwrap().push(batch.batch_id);
            self.inner.record(batch).await?;
            if self.lose_next.swap(false, Ordering::SeqCst) {
                anyhow::bail!("operation timed out");
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_batch_retried_after_a_timeout_is_not_double_counted() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    // The identity instance's internal client mints service tokens and knows billing's URL.
    let sink = Arc::new(LostAnswer {
        inner: HttpSink(s.identity.core.internal.clone()),
        lose_next: AtomicBool::new(true),
        ids: std::sync::Mutex::default(),
    });
    let metering = Metering::new();
    let flusher = Flusher::new("identity", metering.clone(), sink.clone());
    let tenant = Uuid::new_v4();
    metering.add(tenant, Metric::ApiCalls, 5);
    metering.add(tenant, Metric::TokenIssuances, 3);

    assert!(
        !flusher.flush().await,
        "the first delivery reports a failure"
    );
    assert_eq!(
        usage_sum(&env, tenant, "api_calls").await,
        5,
        "billing did commit it"
    );
    // Newer counts wait behind the pending batch, which is sent again unchanged.
    metering.add(tenant, Metric::ApiCalls, 1);
    assert!(flusher.flush().await);
    let ids = sink.ids.lock().unwrap().clone();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids[0], ids[1], "the retry carries the same batch id");
    assert_ne!(ids[1], ids[2]);
    assert_eq!(usage_sum(&env, tenant, "api_calls").await, 6);
    assert_eq!(usage_sum(&env, tenant, "token_issuances").await, 3);
    assert_eq!(count(&env, "usage_batches").await, 2);
}

#[tokio::test]
async fn services_flush_periodically_and_billing_reports_usage() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("METERING_FLUSH_INTERVAL_MS", "200")]).await;
    let a = s.account("Busy Co").await;
    for _ in 0..4 {
        let res = s
            .id_api
            .http
            .get_auth("/api/v1/agents", &a.token)
            .await
            .unwrap();
        assert_eq!(res.status, 200);
    }
    // Signup issued one token (the admin token), then four API calls were made.
    let seen = eventually(Duration::from_secs(10), || async {
        let u = s
            .billing_get("/api/v1/billing/usage", &a.token)
            .await
            .json();
        (u["today"]["token_issuances"] == 1 && u["today"]["api_calls"].as_i64() >= Some(4))
            .then_some(u)
    })
    .await
    .expect("usage reached billing");
    assert_eq!(seen["month"]["token_issuances"], 1);
    assert_eq!(seen["tier"], "free");
    assert!(seen["today"]["date"].is_string());
}

#[tokio::test]
async fn stopping_identity_flushes_its_counters_with_nothing_lost() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[("METERING_FLUSH_INTERVAL_MS", "3600000")]).await;
    let a = s.account("Final Co").await;
    for i in 0..7 {
        s.id_api
            .create_agent(&a.token, &agent_body(&format!("agent {i}"), json!({})))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        s.id_api.admin_token(&a.tenant).await.unwrap();
    }
    assert_eq!(
        usage_sum(&env, a.id, "api_calls").await,
        0,
        "nothing flushed yet"
    );
    s.identity.stop().await.unwrap();
    assert_eq!(usage_sum(&env, a.id, "api_calls").await, 7);
    assert_eq!(usage_sum(&env, a.id, "token_issuances").await, 4);
}

#[tokio::test]
async fn sigterm_of_the_billing_binary_flushes_its_own_counters() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let a = s.account("Term Co").await;
    // ChildService picks the port.
    let mut vars = billing_env(&env, 0, &s.identity.internal_url, &s.stripe.url());
    vars.set("METERING_FLUSH_INTERVAL_MS", "3600000");
    let mut child = ChildService::start(env!("CARGO_BIN_EXE_billing"), &vars)
        .await
        .unwrap();
    let client = testkit::Client::new(&child.base_url);
    for _ in 0..5 {
        let res = client
            .get_auth("/api/v1/billing/subscription", &a.token)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
    }
    assert_eq!(usage_sum(&env, a.id, "api_calls").await, 0);
    child.signal("TERM").unwrap();
    let code = child
        .wait(Duration::from_secs(20))
        .await
        .expect("exits after SIGTERM");
    assert_eq!(code, Some(0));
    assert_eq!(usage_sum(&env, a.id, "api_calls").await, 5);
}

/// Forwards TCP to `upstream`; the first connection's answer is held for `delay` (the
/// request has reached billing, the answer arrives too late).
async fn slow_first_answer(upstream: u16, delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let hold = std::mem::take(&mut first);
            tokio::spawn(async move {
                let server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                if hold {
                    tokio::time::sleep(delay).await;
                }
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
                up.abort();
            });
        }
    });
    (port, connections)
}

#[tokio::test]
async fn a_batch_whose_answer_timed_out_is_sent_again_and_counted_once() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let (client_id, secret) = identity::service_client(&s.identity.state.config, "analytics")
        .await
        .unwrap();
    let (proxy, connections) =
        slow_first_answer(s.billing.internal_port, Duration::from_millis(1500)).await;
    // Another service's internal client: service token from identity, billing behind the proxy.
    let cfg = platform::config::read_common(
        &crate::helpers::with(
            env.env(),
            &[
                ("IDENTITY_URL", s.identity.internal_url.as_str()),
                ("BILLING_URL", &format!("http://127.0.0.1:{proxy}")),
                ("SERVICE_CLIENT_ID", &client_id),
                ("SERVICE_CLIENT_SECRET", &secret),
                ("INTERNAL_HTTP_TIMEOUT_MS", "500"),
                ("INTERNAL_HTTP_RETRIES", "2"),
            ],
        ),
        platform::config::ServiceKind::Analytics,
    )
    .unwrap();
    let internal = platform::internal_http::InternalHttp::new(&cfg.internal).unwrap();
    let metering = Metering::new();
    let flusher = Flusher::new("analytics", metering.clone(), Arc::new(HttpSink(internal)));
    let tenant = Uuid::new_v4();
    metering.add(tenant, Metric::ApiCalls, 9);
    assert!(flusher.flush().await, "delivered on a retry");
    assert_eq!(usage_sum(&env, tenant, "api_calls").await, 9);
    assert_eq!(count(&env, "usage_batches").await, 1);
    assert!(
        connections.load(Ordering::SeqCst) >= 2,
        "the batch was sent again after the timeout"
    );
}
