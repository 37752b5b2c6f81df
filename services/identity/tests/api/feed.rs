//! The change feed: `GET /internal/v1/events`.

use std::collections::HashSet;
use std::time::Duration;

use domain::{FeedCursor, FeedEvent, FeedPage};
use identity::audit::{self, NewEvent};
use serde_json::json;
use testkit::TestEnv;
use uuid::Uuid;

use crate::helpers::{service_token, spawn, world};

async fn page(id: &crate::helpers::Identity, token: &str, query: &str) -> FeedPage {
    let res = id
        .app
        .client
        .get_auth(&format!("/internal/v1/events?{query}"), token)
        .await
        .unwrap();
    assert_eq!(
        res.status,
        200,
        "{} {:?}",
        res.body,
        testkit::logs::lines_with(&["ERROR"])
    );
    serde_json::from_str(&res.body).unwrap()
}

/// Reads the feed from `after` until it has returned `count` events (events of running
/// transactions anywhere in the cluster may arrive a little later than their commit).
async fn drain(
    id: &crate::helpers::Identity,
    token: &str,
    mut after: FeedCursor,
    count: usize,
) -> (Vec<FeedEvent>, FeedCursor) {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "feed stalled at {}",
            out.len()
        );
        let p = page(id, token, &format!("after={after}&limit=3&wait=1")).await;
        out.extend(p.events);
        after = p.next;
    }
    assert_eq!(out.len(), count, "more events than were written");
    (out, after)
}

async fn stored_events(env: &TestEnv) -> usize {
    usize::try_from(crate::helpers::count(env, "identity.audit_events").await).unwrap()
}

#[tokio::test]
async fn the_feed_requires_a_service_token() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Feed Auth").await;
    let anonymous = id.app.client.get("/internal/v1/events").await.unwrap();
    assert_eq!(anonymous.status, 401);
    let admin = id
        .app
        .client
        .get_auth("/internal/v1/events", &w.admin)
        .await
        .unwrap();
    assert_eq!(admin.status, 403);
    assert_eq!(admin.json()["code"], "insufficient_scope");
}

#[tokio::test]
async fn events_come_in_order_page_by_page_with_agent_snapshots() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let token = service_token(&id, "marketplace").await;
    let w = world(&id, "Feed Order").await;
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();

    let (events, _) = drain(&id, &token, FeedCursor::START, stored_events(&env).await).await;
    let mut last = FeedCursor::START;
    let mut actions = Vec::new();
    for e in &events {
        assert!(e.cursor > last, "cursors must increase");
        last = e.cursor;
        actions.push(e.action.clone());
        if e.action == "agent.created" {
            let agent = e.agent().expect("agent events carry the agent");
            assert_eq!(agent.id.to_string(), w.agent_id());
            assert_eq!(e.details["publisher"], "Feed Order");
        }
    }
    for expected in [
        "tenant.created",
        "agent.created",
        "credential.generated",
        "token.issued",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    let created = actions.iter().position(|a| a == "agent.created").unwrap();
    let generated = events
        .iter()
        .position(|e| e.action == "credential.generated" && e.details["agent_id"] == w.agent["id"])
        .unwrap();
    assert!(created < generated, "{actions:?}");
}

#[tokio::test]
async fn bad_feed_parameters_are_400_naming_the_parameter() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let token = service_token(&id, "analytics").await;
    for (query, field) in [
        ("after=banana", "after"),
        ("after=1.2.3", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
        ("wait=-1", "wait"),
        ("colour=red", "colour"),
        ("actions=Agent.Created", "actions"),
        ("actions=", "actions"),
    ] {
        let res = id
            .app
            .client
            .get_auth(&format!("/internal/v1/events?{query}"), &token)
            .await
            .unwrap();
        assert_eq!(res.status, 400, "{query}: {}", res.body);
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert!(res.body.contains(field), "{query}: {}", res.body);
    }
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_an_event_commits() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("FEED_POLL_INTERVAL_MS", "5000")]).await;
    let token = service_token(&id, "marketplace").await;
    let w = world(&id, "Feed Wait").await;
    let (_, after) = drain(&id, &token, FeedCursor::START, stored_events(&env).await).await;
    let started = std::time::Instant::now();
    let waiting = {
        let client = id.app.client.clone();
        let token = token.clone();
        tokio::spawn(async move {
            client
                .get_auth(
                    &format!("/internal/v1/events?after={after}&wait=20"),
                    &token,
                )
                .await
                .unwrap()
        })
    };
    // A token issuance commits through the group-commit writer, which wakes the poll.
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let res = waiting.await.unwrap();
    if res.status != 200 {
        eprintln!("{:?}", testkit::logs::lines_with(&["ERROR"]));
    }
    let p: FeedPage = serde_json::from_str(&res.body).unwrap();
    assert_eq!(p.events.len(), 1);
    assert_eq!(p.events[0].action, "token.issued");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not polled"
    );
}

/// Writers whose transactions commit in a different order than they began never make a
/// reader skip an event: the reader only reads below the oldest running transaction.
#[tokio::test]
async fn out_of_order_commits_never_make_a_reader_skip_an_event() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("FEED_POLL_INTERVAL_MS", "10")]).await;
    let token = service_token(&id, "analytics").await;
    const WRITERS: usize = 6;
    const EACH: usize = 12;

    let setup = env.db.client().await.unwrap();
    let mut tenants = Vec::new();
    for _ in 0..WRITERS {
        let t = Uuid::now_v7();
        setup
            .execute(
                "INSERT INTO identity.audit_chain_heads (tenant_id, chain_seq, hash) VALUES ($1, 0, $2)",
                &[&t, &vec![0u8; 32]],
            )
            .await
            .unwrap();
        tenants.push(t);
    }
    let (_, start) = drain(&id, &token, FeedCursor::START, stored_events(&env).await).await;

    let mut db_config = id.app.state.config.common.database.clone();
    db_config.pool_max = WRITERS;
    let pool = platform::db::Db::new(&db_config, "identity", "feed-test-writers").unwrap();
    let mut writers = Vec::new();
    for (w, tenant) in tenants.iter().copied().enumerate() {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let mut client = pool.get().await.unwrap();
            let mut ids = Vec::new();
            for i in 0..EACH {
                let tx = client.transaction().await.unwrap();
                let stored = audit::append(
                    &tx,
                    vec![
                        NewEvent::new(tenant, "test", "agent.updated", None)
                            .details(json!({"writer": w, "i": i})),
                    ],
                )
                .await
                .unwrap();
                // Hold the transaction open for a while, longer for some writers than for
                // others, so later transactions commit before earlier ones.
                let hold = ((w * 7 + i * 13) % 5) as u64 * 15;
                tokio::time::sleep(Duration::from_millis(hold)).await;
                tx.commit().await.unwrap();
                ids.push(stored[0].id);
            }
            ids
        }));
    }

    let expected_total = WRITERS * EACH;
    let mut seen = Vec::new();
    let mut after = start;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < expected_total && std::time::Instant::now() < deadline {
        let p = page(&id, &token, &format!("after={after}&limit=5&wait=1")).await;
        for e in &p.events {
            seen.push(e.id);
        }
        after = p.next;
    }
    let mut committed = HashSet::new();
    for w in writers {
        committed.extend(w.await.unwrap());
    }
    // Whatever was still in flight when the reader caught up arrives on later reads.
    loop {
        let p = page(&id, &token, &format!("after={after}&limit=1000")).await;
        if p.events.is_empty() {
            break;
        }
        seen.extend(p.events.iter().map(|e| e.id));
        after = p.next;
    }
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was delivered twice");
    assert_eq!(unique, committed, "the reader skipped or invented events");
}

#[tokio::test]
async fn every_internal_route_refuses_anything_but_a_service_token() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Internal").await;
    let service = service_token(&id, "analytics").await;
    let tenant = &w.tenant.id;
    let check = serde_json::json!({"jti": "x", "sub": "y", "client_id": "z", "issued_at_ms": 0});
    let routes = [
        (reqwest::Method::GET, "/internal/v1/events".to_owned()),
        (
            reqwest::Method::GET,
            format!("/internal/v1/audit/integrity/{tenant}"),
        ),
        (reqwest::Method::GET, "/internal/v1/signing-keys".to_owned()),
        (
            reqwest::Method::POST,
            "/internal/v1/revocations/check".to_owned(),
        ),
    ];
    for (method, path) in &routes {
        let send = |token: Option<&str>| {
            let mut req = id.app.client.request(method.clone(), path).json(&check);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            id.app.client.send(req)
        };
        assert_eq!(
            send(None).await.unwrap().status,
            401,
            "{path} without a token"
        );
        assert_eq!(
            send(Some(&w.admin)).await.unwrap().status,
            403,
            "{path} with a tenant token"
        );
        let ok = send(Some(&service)).await.unwrap();
        assert_eq!(ok.status, 200, "{path} with a service token: {}", ok.body);
    }
}

#[tokio::test]
async fn an_action_filter_returns_only_those_actions_and_moves_past_the_rest() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let token = service_token(&id, "marketplace").await;
    let w = world(&id, "Feed Filter").await;
    for _ in 0..5 {
        id.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }
    let total = stored_events(&env).await;
    // Everything is below the horizon once the unfiltered feed has returned it all.
    let (_, end) = drain(&id, &token, FeedCursor::START, total).await;
    let p = page(
        &id,
        &token,
        "after=0&limit=1000&actions=agent.created,tenant.updated",
    )
    .await;
    assert_eq!(p.events.len(), 1, "{:?}", p.events);
    assert_eq!(p.events[0].action, "agent.created");
    assert!(p.next >= end, "the cursor moves past the events it skipped");
    let p = page(
        &id,
        &token,
        &format!("after={}&actions=agent.created", p.next),
    )
    .await;
    assert!(p.events.is_empty());
}
