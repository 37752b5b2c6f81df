//! The audit log: listing, tamper detection, the verify limit, retention behind signed
//! checkpoints, and the background integrity gauge.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::identity::agent_body;
use testkit::{TestEnv, eventually};
use uuid::Uuid;

use crate::helpers::{Identity, count, spawn, world};

async fn get(id: &Identity, path: &str, token: &str) -> (u16, Value) {
    let res = id.app.client.get_auth(path, token).await.unwrap();
    let body = if res.body.is_empty() {
        Value::Null
    } else {
        res.json()
    };
    (res.status, body)
}

async fn verify(id: &Identity, token: &str) -> Value {
    let (status, body) = get(id, "/api/v1/audit/verify", token).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Changes a stored event the way only the database owner can: with triggers bypassed.
async fn tamper(env: &TestEnv, sql: &str, id: Uuid) {
    let c = env.db.client().await.unwrap();
    c.batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    let n = c.execute(sql, &[&id]).await.unwrap();
    assert_eq!(n, 1, "{sql}");
}

async fn event_of(env: &TestEnv, tenant: &str, action: &str) -> (Uuid, i64) {
    let c = env.db.client().await.unwrap();
    let r = c
        .query_one(
            "SELECT id, chain_seq FROM identity.audit_events
              WHERE tenant_id = $1::text::uuid AND action = $2 ORDER BY chain_seq LIMIT 1",
            &[&tenant, &action],
        )
        .await
        .unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test]
async fn the_database_refuses_to_change_or_remove_audit_events() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Append Only").await;
    let (event, _) = event_of(&env, &w.tenant.id, "agent.created").await;
    let c = env.db.client().await.unwrap();
    for sql in [
        "UPDATE identity.audit_events SET actor = 'someone else' WHERE id = $1",
        "DELETE FROM identity.audit_events WHERE id = $1",
    ] {
        let err = c.execute(sql, &[&event]).await.unwrap_err();
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    let err = c
        .batch_execute("TRUNCATE identity.audit_events")
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("append-only"), "{err:?}");
}

#[tokio::test]
async fn an_altered_row_is_reported_at_exactly_that_event() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Tampered").await;
    for _ in 0..3 {
        id.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }
    // A full walk: an incremental one checks only what the background verification has
    // not reached yet, which depends on when it last ran.
    let (status, intact) = get(&id, "/api/v1/audit/verify?full=true", &w.admin).await;
    assert_eq!(status, 200, "{intact}");
    assert_eq!(intact["valid"], true, "{intact}");
    assert!(intact["checked"].as_u64().unwrap() >= 6, "{intact}");

    let (event, seq) = event_of(&env, &w.tenant.id, "credential.generated").await;
    tamper(
        &env,
        "UPDATE identity.audit_events SET details = details || '{\"scopes\": [\"admin:tenant\"]}'
          WHERE id = $1",
        event,
    )
    .await;
    // The first walk verified past the altered event: only a full walk goes back to it.
    let incremental = verify(&id, &w.admin).await;
    assert_eq!(incremental["valid"], true, "{incremental}");
    let (status, report) = get(&id, "/api/v1/audit/verify?full=true", &w.admin).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false);
    assert_eq!(report["first_broken"]["event_id"], event.to_string());
    assert_eq!(report["first_broken"]["chain_seq"], seq);
    assert_eq!(report["first_broken"]["reason"], "hash_mismatch");
    assert_eq!(report["checked"], seq - 1);
}

#[tokio::test]
async fn removed_events_are_reported_as_gaps_and_a_cut_tail() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Gaps").await;
    for _ in 0..2 {
        id.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }
    let (agent_event, seq) = event_of(&env, &w.tenant.id, "agent.created").await;
    tamper(
        &env,
        "DELETE FROM identity.audit_events WHERE id = $1",
        agent_event,
    )
    .await;
    let report = verify(&id, &w.admin).await;
    assert_eq!(report["first_broken"]["reason"], "missing_event");
    assert_eq!(report["first_broken"]["chain_seq"], seq);

    // Another tenant: remove only the newest event.
    let other = world(&id, "Cut Tail").await;
    let c = env.db.client().await.unwrap();
    let last: (Uuid, i64) = {
        let r = c
            .query_one(
                "SELECT id, chain_seq FROM identity.audit_events
                  WHERE tenant_id = $1::text::uuid ORDER BY chain_seq DESC LIMIT 1",
                &[&other.tenant.id],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    tamper(
        &env,
        "DELETE FROM identity.audit_events WHERE id = $1",
        last.0,
    )
    .await;
    let report = verify(&id, &other.admin).await;
    assert_eq!(report["valid"], false);
    assert_eq!(report["first_broken"]["reason"], "head_mismatch");
    assert_eq!(report["first_broken"]["chain_seq"], last.1);
}

#[tokio::test]
async fn verify_is_limited_per_tenant() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("RATE_LIMIT_AUDIT_VERIFY_MAX", "2")]).await;
    let a = world(&id, "Verify A").await;
    let b = world(&id, "Verify B").await;
    for _ in 0..2 {
        let res = id
            .app
            .client
            .get_auth("/api/v1/audit/verify", &a.admin)
            .await
            .unwrap();
        assert_eq!(res.status, 200);
        assert_eq!(res.header("ratelimit-limit"), Some("2"));
    }
    let limited = id
        .app
        .client
        .get_auth("/api/v1/audit/verify", &a.admin)
        .await
        .unwrap();
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!(limited.header("retry-after").is_some());
    assert_eq!(limited.json()["limit"], "audit_verify");
    // The limit is per tenant.
    let (status, _) = get(&id, "/api/v1/audit/verify", &b.admin).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_log_lists_filters_and_pages_only_the_tenants_events() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Audit List").await;
    let other = world(&id, "Audit Other").await;
    let second = id
        .api
        .create_agent(&w.admin, &agent_body("second", json!({})))
        .await
        .unwrap();
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let refused = id
        .api
        .token_response(&w.cred.client_id, "wrong-secret", &[])
        .await
        .unwrap();
    assert_eq!(refused.status, 401);

    // Everything, newest first, two at a time, no duplicates or gaps.
    let mut seqs = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit?limit=2&cursor={c}"),
            None => "/api/v1/audit?limit=2".to_owned(),
        };
        let (status, page) = get(&id, &path, &w.admin).await;
        assert_eq!(status, 200, "{page}");
        for e in page["data"].as_array().unwrap() {
            seqs.push(e["chain_seq"].as_i64().unwrap());
            assert_eq!(e["hash"].as_str().unwrap().len(), 64);
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let total = count(
        &env,
        &format!("identity.audit_events WHERE tenant_id = '{}'", w.tenant.id),
    )
    .await;
    let expected: Vec<i64> = (1..=total).rev().collect();
    assert_eq!(seqs, expected);

    let (_, issued) = get(&id, "/api/v1/audit?action=token.issued", &w.admin).await;
    let issued = issued["data"].as_array().unwrap().clone();
    assert!(!issued.is_empty());
    assert!(issued.iter().all(|e| e["action"] == "token.issued"));
    let (_, failures) = get(&id, "/api/v1/audit?outcome=failure", &w.admin).await;
    let failures = failures["data"].as_array().unwrap().clone();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["action"], "token.refused");
    assert_eq!(failures[0]["details"]["reason"], "wrong_secret");

    let (_, about_second) = get(
        &id,
        &format!("/api/v1/audit?agent_id={}", second["id"].as_str().unwrap()),
        &w.admin,
    )
    .await;
    let about_second = about_second["data"].as_array().unwrap().clone();
    assert_eq!(about_second.len(), 1);
    assert_eq!(about_second[0]["action"], "agent.created");

    let (_, future) = get(&id, "/api/v1/audit?from=2999-01-01T00:00:00Z", &w.admin).await;
    assert_eq!(future["data"].as_array().unwrap().len(), 0);

    // One event by id; another tenant's event is not found.
    let one = &issued[0];
    let (status, got) = get(
        &id,
        &format!("/api/v1/audit/{}", one["id"].as_str().unwrap()),
        &w.admin,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&got, one);
    let (status, body) = get(
        &id,
        &format!("/api/v1/audit/{}", one["id"].as_str().unwrap()),
        &other.admin,
    )
    .await;
    assert_eq!(status, 404, "{body}");

    for (query, field) in [
        ("limit=0", "limit"),
        ("outcome=maybe", "outcome"),
        ("agent_id=nope", "agent_id"),
        ("from=yesterday", "from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("cursor=-4", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let (status, body) = get(&id, &format!("/api/v1/audit?{query}"), &w.admin).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }

    // An agent token without audit:read is refused.
    let agent_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let (status, _) = get(&id, "/api/v1/audit", &agent_token).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn background_verification_drives_the_integrity_gauge() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("AUDIT_VERIFY_INTERVAL_SECS", "1")]).await;
    let w = world(&id, "Gauge").await;
    let gauge = |want: &'static str| {
        let client = id.app.client.clone();
        async move {
            let m = client.get("/metrics").await.unwrap().body;
            m.lines()
                .any(|l| {
                    l.starts_with("agentidp_audit_chain_integrity{")
                        && l.ends_with(&format!("}} {want}"))
                })
                .then_some(())
        }
    };
    assert!(
        eventually(Duration::from_secs(10), || gauge("1"))
            .await
            .is_some(),
        "the gauge never reported the intact chain"
    );
    let (event, _) = event_of(&env, &w.tenant.id, "agent.created").await;
    tamper(
        &env,
        "UPDATE identity.audit_events SET actor = 'client:forged' WHERE id = $1",
        event,
    )
    .await;
    assert!(
        eventually(Duration::from_secs(10), || gauge("0"))
            .await
            .is_some(),
        "the gauge never reported the broken chain"
    );
}
