//! The projection: rebuilding from the start of the feed, restarts mid-stream, seeding.

use serde_json::{Value, json};
use testkit::eventually;

use crate::helpers::{Stack, WITHIN, agent, ids, index_dir, search, shows, spawn};

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

/// Every page of the searches the index answers, and one the database does.
async fn searches(app: &testkit::TestApp<marketplace::State>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for query in [
        "q=heron",
        "q=agent&limit=2",
        "q=edited",
        "q=renamed+history",
        "q=heron+-edited",
        "q=hero",
        "tag=heron",
    ] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let res = search(app, &format!("{query}{cursor}")).await;
            seen.extend(ids(&res));
            match res.json()["next_cursor"].as_str() {
                Some(c) => cursor = format!("&cursor={c}"),
                None => break,
            }
        }
        out.push(seen);
    }
    out
}

/// Waits until `app` reports ready; panics after 20 s.
async fn ready(app: &testkit::TestApp<marketplace::State>) {
    let ok = eventually(std::time::Duration::from_secs(20), || async {
        let res = app.client.get("/health/ready").await.ok()?;
        (res.status == 200).then_some(())
    })
    .await;
    assert!(ok.is_some(), "the instance never became ready");
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
    // The index followed edits, suspension, unlisting, deletion and the rename.
    let followed = eventually(WITHIN, || async {
        let now = searches(&s.market).await;
        (now[0].len() == 3 && now[3].len() == 2).then_some(now)
    })
    .await
    .expect("the index did not follow the changes");
    assert!(followed[2] == [agents[0].clone()], "{followed:?}");
    // An instance started now builds its index from the listings: the same answers.
    let fresh = s.another(&[]).await;
    ready(&fresh).await;
    assert_eq!(searches(&fresh).await, followed);

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
    // Both instances' indexes are built again: the same answers as before.
    for app in [&s.market, &fresh] {
        let rebuilt = eventually(WITHIN, || async {
            (searches(app).await == followed).then_some(())
        })
        .await;
        assert!(
            rebuilt.is_some(),
            "{:?} != {followed:?}",
            searches(app).await
        );
    }
}

#[tokio::test]
async fn a_marketplace_restarted_mid_stream_neither_loses_nor_duplicates_anything() {
    // The restarted instance opens the index the stopped one left and goes on from it.
    let dir = index_dir();
    let same = [
        ("MARKETPLACE_FEED_PAGE_SIZE", "3"),
        ("MARKETPLACE_INDEX_DIR", dir.as_str()),
    ];
    let mut s = Stack::start(&same).await;
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
    let restarted = s.another(&same).await;
    s.caught_up_feed().await;
    crate::helpers::indexed(&s.env, &restarted).await;

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
    // Its index too: every agent once, in its final state.
    ready(&restarted).await;
    let found = eventually(WITHIN, || async {
        let res = search(&restarted, "q=lemur&limit=100").await;
        let finals = res.json()["data"]
            .as_array()?
            .iter()
            .filter(|a| {
                a["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("Final"))
            })
            .count();
        let mut found = ids(&res);
        found.sort();
        (found == agents && finals == agents.len()).then_some(())
    })
    .await;
    assert!(
        found.is_some(),
        "the reopened index lost or kept a stale listing"
    );
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
