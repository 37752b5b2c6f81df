//! `GET /api/v1/audit/verify` cannot starve the service: walks run on connections of their
//! own, one per tenant and a few per instance at a time, stop when the caller goes away, and
//! start from the last verified position unless `?full=true`.

use std::time::Duration;

use identity::audit::NewEvent;
use serde_json::{Value, json};
use testkit::{TestEnv, eventually};
use uuid::Uuid;

use crate::helpers::{Identity, count, spawn, world};

/// Appends `n` token events to `tenant`'s chain straight through the audit append path.
async fn grow_chain(id: &Identity, tenant: &str, n: usize) {
    let tenant: Uuid = tenant.parse().unwrap();
    let mut c = id.app.core.db.get().await.unwrap();
    for chunk in 0..n.div_ceil(5000) {
        let events: Vec<NewEvent> = (0..5000.min(n - chunk * 5000))
            .map(|i| {
                NewEvent::new(
                    tenant,
                    "client:bulk",
                    "token.issued",
                    Some(format!("token:{chunk}-{i}")),
                )
                .details(json!({"scopes": ["agents:read"], "n": i}))
            })
            .collect();
        let tx = c.transaction().await.unwrap();
        identity::audit::append(&tx, events).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// A gauge of this instance's `/metrics` with `label`.
async fn gauge(id: &Identity, name: &str, label: &str) -> Option<f64> {
    let m = id.app.client.get("/metrics").await.ok()?.body;
    m.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn verify(
    client: &testkit::Client,
    token: &str,
    query: &str,
) -> (u16, Value, Option<String>) {
    let res = client
        .get_auth(&format!("/api/v1/audit/verify{query}"), token)
        .await
        .unwrap();
    let body = if res.body.is_empty() {
        Value::Null
    } else {
        res.json()
    };
    (
        res.status,
        body,
        res.header("retry-after").map(str::to_owned),
    )
}

#[tokio::test]
async fn concurrent_verifications_stay_within_their_bounds_and_tokens_keep_flowing() {
    let env = TestEnv::new().await.unwrap();
    // A small pool with a short wait: verification holding the token path's connections
    // would show as 503s at once.
    let id = spawn(
        &env,
        &[
            ("RATE_LIMIT_AUDIT_VERIFY_MAX", "1000"),
            ("DB_POOL_MAX", "4"),
            ("DB_POOL_CONNECTION_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let mut walkers = Vec::new();
    for name in ["Walk A", "Walk B", "Walk C"] {
        let tenant = id.api.signup(name).await.unwrap();
        grow_chain(&id, &tenant.id, 3000).await;
        walkers.push(id.api.admin_token(&tenant).await.unwrap());
    }
    let busy = world(&id, "Busy Tokens").await;

    let base = id.app.base_url.clone();
    let verifies: Vec<_> = (0..25)
        .map(|i| {
            let client = testkit::Client::new(&base);
            let token = walkers[i % walkers.len()].clone();
            let query = if i % 5 == 0 { "?full=true" } else { "" };
            tokio::spawn(async move { verify(&client, &token, query).await })
        })
        .collect();
    // Four callers keep asking for tokens for as long as the verifications run.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tokens: Vec<_> = (0..4)
        .map(|_| {
            let api = testkit::identity::IdentityClient::new(&base);
            let (client_id, secret) =
                (busy.cred.client_id.clone(), busy.cred.client_secret.clone());
            let done = done.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) || statuses.is_empty() {
                    let res = api.token_response(&client_id, &secret, &[]).await.unwrap();
                    statuses.push((res.status, res.body));
                }
                statuses
            })
        })
        .collect();
    let mut verified = Vec::new();
    for v in verifies {
        verified.push(v.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tokens {
        for (status, body) in t.await.unwrap() {
            assert_eq!(status, 200, "a token request failed: {body}");
        }
    }
    let mut ok = 0;
    for (status, body, retry_after) in &verified {
        match status {
            200 => {
                ok += 1;
                assert_eq!(body["valid"], true, "{body}");
            }
            429 => {
                assert_eq!(body["code"], "verify_busy", "{body}");
                assert!(retry_after.is_some(), "429 without Retry-After");
            }
            other => panic!("verify answered {other}: {body}"),
        }
    }
    assert!(ok >= 1, "no verification ran");
    let peak = gauge(&id, "agentidp_audit_verify_walks_peak", "walk=\"all\"")
        .await
        .expect("the peak gauge is exported");
    assert!((1.0..=2.0).contains(&peak), "{peak} walks ran at once");
    let full_peak = gauge(&id, "agentidp_audit_verify_walks_peak", "walk=\"full\"")
        .await
        .unwrap_or(0.0);
    assert!(full_peak <= 1.0, "{full_peak} full walks ran at once");
    assert_eq!(
        gauge(&id, "agentidp_audit_verify_walks_in_flight", "walk=\"all\"").await,
        Some(0.0)
    );
}

#[tokio::test]
async fn verification_is_incremental_unless_full_is_asked_for() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("RATE_LIMIT_AUDIT_VERIFY_MAX", "1000")]).await;
    let t = id.api.signup("Incremental").await.unwrap();
    let admin = id.api.admin_token(&t).await.unwrap();
    grow_chain(&id, &t.id, 300).await;
    let (status, first, _) = verify(&id.app.client, &admin, "").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["valid"], true);
    // The start-up background verification may have walked part of the chain already (it
    // runs at start, racing with the chain's growth): the walk goes on from there.
    let total = first["head"]["chain_seq"].as_u64().unwrap();
    let from = first["from"]["chain_seq"].as_u64().unwrap_or(0);
    assert!(total >= 300, "{first}");
    assert_eq!(first["checked"].as_u64().unwrap(), total - from, "{first}");
    assert_eq!(first["walk"], "incremental");

    // Only what was appended since is walked again.
    grow_chain(&id, &t.id, 5).await;
    let (_, second, _) = verify(&id.app.client, &admin, "").await;
    assert_eq!(second["valid"], true, "{second}");
    assert_eq!(second["checked"], 5, "{second}");
    assert_eq!(second["from"]["chain_seq"], first["head"]["chain_seq"]);
    assert_eq!(second["head"]["chain_seq"], total as i64 + 5);

    let (_, full, _) = verify(&id.app.client, &admin, "?full=true").await;
    assert_eq!(full["walk"], "full");
    assert_eq!(full["checked"], total + 5, "{full}");

    // Bad input is a 400 naming the parameter.
    let (status, bad, _) = verify(&id.app.client, &admin, "?full=maybe").await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["code"], "invalid_query");
}

#[tokio::test]
async fn a_walk_stops_when_its_caller_goes_away() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("RATE_LIMIT_AUDIT_VERIFY_MAX", "1000")]).await;
    let w = id.api.signup("Gone").await.unwrap();
    let admin = id.api.admin_token(&w).await.unwrap();
    grow_chain(&id, &w.id, 20_000).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = format!("{}/api/v1/audit/verify?full=true", id.app.base_url);
    let gone = impatient.get(&url).bearer_auth(&admin).send().await;
    assert!(
        gone.is_err(),
        "the walk finished within 100 ms: make the chain longer"
    );
    // The walk ends (and frees the tenant's turn) ...
    let ended = eventually(Duration::from_secs(5), || async {
        (gauge(&id, "agentidp_audit_verify_walks_in_flight", "walk=\"all\"").await == Some(0.0))
            .then_some(())
    })
    .await;
    assert!(ended.is_some(), "the walk never ended");
    assert_eq!(
        gauge(&id, "agentidp_audit_verify_walks_peak", "walk=\"full\"").await,
        Some(1.0),
        "no walk started"
    );
    // ... without having walked to the end: a finished walk records its position.
    assert_eq!(
        count(
            &env,
            &format!(
                "identity.audit_verified_positions WHERE tenant_id = '{}'",
                w.id
            )
        )
        .await,
        0,
        "the walk ran to its end without its caller"
    );
}
