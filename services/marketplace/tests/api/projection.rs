//! The projection: rebuilding from the start of the feed, restarts mid-stream, seeding.

use serde_json::{Value, json};
use testkit::eventually;

use crate::helpers::{Stack, WITHIN, agent, ids, postings_drift, search, shows, spawn};

/// Every listing row, without the cache-invalidation stamp (a rebuild writes new versions).
async fn snapshot(s: &Stack) -> Vec<Value> {
    let db = s.env.db.client().await.unwrap();
    db.query(
        "SELECT to_jsonb(l) - 'changed_version' FROM marketplace.listings l ORDER BY id",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Registers agents and puts them through every kind of change.
async fn history(s: &Stack) -> Vec<String> {
    let p = s.publisher("History Labs").await;
    let q = s.publisher("Other History").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let owner = if i % 2 == 0 { &p } else { &q };
        ids.push(
            s.register(
                owner,
                &format!("Heron Agent {i}"),
                json!({"tags": ["heron"]}),
            )
            .await,
        );
    }
    s.patch(&p, &ids[0], json!({"description": "Edited once."}))
        .await;
    s.patch(
        &p,
        &ids[0],
        json!({"description": "Edited twice.", "tags": ["heron", "edited"]}),
    )
    .await;
    s.lifecycle(&q, &ids[1], "suspend").await;
    s.patch(&p, &ids[2], json!({"listed": false})).await;
    let res = s
        .api
        .delete(&format!("/api/v1/agents/{}", ids[3]), &q.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    s.lifecycle(&q, &ids[5], "suspend").await;
    s.lifecycle(&q, &ids[5], "reactivate").await;
    let res = s
        .api
        .patch(
            &format!("/api/v1/tenants/{}", p.tenant.id),
            &p.admin,
            &json!({"name": "Renamed History"}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    ids
}

#[tokio::test]
async fn rebuilding_from_cursor_0_gives_exactly_the_incremental_projection() {
    let s = Stack::start(&[]).await;
    let agents = history(&s).await;
    s.caught_up().await;
    let incremental = snapshot(&s).await;
    assert_eq!(incremental.len(), agents.len());
    let visible: Vec<&Value> = incremental
        .iter()
        .filter(|r| r["visible"] == true)
        .collect();
    assert_eq!(visible.len(), 3, "{incremental:#?}");
    assert!(
        incremental
            .iter()
            .any(|r| r["description"] == "Edited twice." && r["revision"] == 4)
    );
    // Edits, suspension, unlisting, deletion and the rename left the postings in step.
    let (drift, postings) = postings_drift(&s.env).await;
    assert_eq!(drift, 0);
    assert!(postings > 0);

    let config = marketplace::Config::from_env(&s.market_config(&[])).unwrap();
    marketplace::rebuild(&config).await.unwrap();
    let emptied = snapshot(&s).await;
    assert!(
        emptied.len() < incremental.len(),
        "the rebuild did not start over"
    );
    // The running consumer notices at its next page; an event ends its long poll.
    s.publisher("Nudge Labs").await;
    s.caught_up().await;
    assert_eq!(snapshot(&s).await, incremental);
    assert_eq!(postings_drift(&s.env).await, (0, postings));
    // And the API shows the rebuilt state.
    let res = search(&s.market, "tag=heron").await;
    assert_eq!(ids(&res).len(), 3, "{}", res.body);
}

#[tokio::test]
async fn a_marketplace_restarted_mid_stream_neither_loses_nor_duplicates_anything() {
    let mut s = Stack::start(&[("MARKETPLACE_FEED_PAGE_SIZE", "3")]).await;
    let p = s.publisher("Restart Labs").await;
    let mut agents = Vec::new();
    let mut stopped = None;
    for i in 0..24 {
        let id = s
            .register(
                &p,
                &format!("Lemur Agent {i}"),
                agent("First draft.", json!({"tags": ["lemur"]})),
            )
            .await;
        s.patch(&p, &id, json!({"description": format!("Final {i}.")}))
            .await;
        agents.push(id);
        if i == 8 {
            // Stop once it has applied some of the stream, not all of it.
            // In its place, an instance that does not follow the feed.
            let idle = spawn(&s.env, &[("MARKETPLACE_ENABLED", "false")]).await;
            let app = std::mem::replace(&mut s.market, idle);
            let started = eventually(WITHIN * 5, || async {
                let n = count(&s, "marketplace.listings").await;
                (n > 0).then_some(n)
            })
            .await;
            assert!(started.is_some(), "nothing was applied before the stop");
            app.stop().await.unwrap();
            stopped = Some(count(&s, "marketplace.listings").await);
        }
    }
    assert!(stopped.unwrap() < 48, "the stop was not mid-stream");
    let restarted = s.another(&[("MARKETPLACE_FEED_PAGE_SIZE", "3")]).await;
    s.caught_up().await;

    // Every agent once, in its final state, each of its events applied exactly once.
    let db = s.env.db.client().await.unwrap();
    let rows = db
        .query(
            "SELECT l.id::text, l.description, l.revision,
                    (SELECT count(*) FROM identity.audit_events e
                      WHERE e.target = 'agent:' || l.id AND e.action LIKE 'agent.%')
               FROM marketplace.listings l",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), agents.len());
    for r in &rows {
        let (id, description, revision, events): (String, String, i32, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let i = agents.iter().position(|a| *a == id).unwrap();
        assert_eq!(description, format!("Final {i}."));
        assert_eq!(
            i64::from(revision),
            events,
            "{id}: events applied {revision} times of {events}"
        );
    }
    let mut listed = Vec::new();
    let mut cursor = String::new();
    loop {
        let res = search(&restarted, &format!("tag=lemur&limit=7{cursor}")).await;
        listed.extend(ids(&res));
        match res.json()["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    listed.sort();
    agents.sort();
    assert_eq!(listed, agents);
}

async fn count(s: &Stack, table: &str) -> i64 {
    let db = s.env.db.client().await.unwrap();
    db.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn seeded_listings_are_searchable_and_purged() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Real Labs").await;
    let real = s.register(&p, "Real Invoice Extractor", json!({})).await;
    assert!(shows(&s.market, "q=invoice", &real, true).await);

    let config = marketplace::Config::from_env(&s.market_config(&[])).unwrap();
    let report = marketplace::seed_listings(&config, 1_500, 400, 7)
        .await
        .unwrap();
    assert_eq!(report.listings, 1_500);
    assert_eq!(count(&s, "marketplace.listings").await, 1_501);
    assert_eq!(postings_drift(&s.env).await.0, 0);
    // The cached answer learns of them.
    let grown = eventually(WITHIN, || async {
        let n = search(&s.market, "q=invoice&limit=100").await.json()["data"]
            .as_array()?
            .len();
        (n > 1).then_some(n)
    })
    .await;
    assert!(grown.is_some(), "seeded listings do not show");
    let page = search(&s.market, "limit=100").await;
    assert_eq!(ids(&page).len(), 100);
    assert!(page.json()["next_cursor"].is_string());
    let first = &page.json()["data"][0];
    assert!(
        first["did"]
            .as_str()
            .unwrap()
            .starts_with("did:web:localhost%3A8080:agents:")
    );

    let purged = marketplace::purge_listings(&config, 500).await.unwrap();
    assert_eq!(purged.listings, 1_500);
    assert_eq!(count(&s, "marketplace.listings").await, 1);
    assert_eq!(postings_drift(&s.env).await.0, 0);
    assert!(shows(&s.market, "q=invoice&limit=100", &real, true).await);
    let only = eventually(WITHIN, || async {
        let res = search(&s.market, "q=invoice&limit=100").await;
        (ids(&res) == [real.clone()]).then_some(())
    })
    .await;
    assert!(only.is_some(), "purged listings still show");
}

#[tokio::test]
async fn the_seed_command_loads_and_purges_synthetic_listings() {
    let env = testkit::TestEnv::new().await.unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_marketplace"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", env.db.url())
            .env("REDIS_URL", &env.redis_url)
            .env("LOG_FORMAT", "json")
            .output()
            .unwrap()
    };
    let report = |out: &std::process::Output| -> Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    };
    let seeded = report(&run(&["seed", "--count", "250", "--batch-size", "100"]));
    assert_eq!(seeded["listings"], 250);
    let db = env.db.client().await.unwrap();
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM marketplace.listings WHERE feed_tx = 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 250);
    let purged = report(&run(&["seed", "--purge"]));
    assert_eq!(purged["listings"], 250);
}
