//! Searches that cannot shut the marketplace: a cost bound per query and a bound on the
//! uncached searches one client address has in flight, with turns shared fairly between
//! addresses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use testkit::{TestApp, TestEnv, TestResponse, eventually};
use tokio_util::sync::CancellationToken;

use crate::helpers::spawn;

/// The test's client addresses arrive through a proxy on loopback, which it trusts.
const BEHIND_PROXY: [(&str, &str); 2] = [
    ("TRUSTED_PROXIES", "127.0.0.0/8"),
    ("RATE_LIMIT_MAX_REQUESTS", "1000000"),
];

type App = TestApp<marketplace::State>;

/// `GET` a search with `q` as the client at `ip`.
async fn search_from(app: &App, ip: &str, q: &str) -> TestResponse {
    let query = serde_urlencoded::to_string([("q", q)]).unwrap();
    let req = app
        .client
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/marketplace/agents?{query}"),
        )
        .header("x-forwarded-for", ip);
    app.client.send(req).await.unwrap()
}

/// Listings of a publisher never asked for before: a cache miss answered by the database.
fn uncached_browse() -> String {
    format!("publisher=p{}", uuid::Uuid::new_v4().simple())
}

/// `GET` a search with the query string `query` as the client at `ip`.
async fn get_from(app: &App, ip: &str, query: &str) -> TestResponse {
    let req = app
        .client
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/marketplace/agents?{query}"),
        )
        .header("x-forwarded-for", ip);
    app.client.send(req).await.unwrap()
}

/// Three words and one or two exclusions never asked before: a cache miss.
fn uncached_query() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (a, b) = (&id[..8], &id[8..16]);
    if id.as_bytes()[16].is_multiple_of(2) {
        format!("invoice report agent -x{a}")
    } else {
        format!("contract summary agent -x{a} -y{b}")
    }
}

#[tokio::test]
async fn five_clients_flooding_uncached_searches_leave_another_clients_searches_answered() {
    let env = TestEnv::new().await.unwrap();
    let mut overrides = BEHIND_PROXY.to_vec();
    // One search at a time in the database, and a bounded wait for a turn: a client whose
    // search queued behind the whole flood would see 503 `search_busy`.
    overrides.extend([
        ("MARKETPLACE_SEARCH_CONCURRENCY", "1"),
        ("MARKETPLACE_SEARCH_TIMEOUT_MS", "300"),
    ]);
    let app = Arc::new(spawn(&env, &overrides).await);

    // Each flooding address keeps 40 never-seen searches going, sending the next as soon as
    // one is answered, even 503. One refused for its address's bound (429) is sent again when
    // Retry-After says: a client that ignores it meets the general per-IP request limit (off
    // here), and refusing it costs no database work.
    let stop = CancellationToken::new();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for client in 1..=5 {
        let ip = format!("203.0.113.{client}");
        for _ in 0..40 {
            let (app, stop, sent, ip) = (app.clone(), stop.clone(), sent.clone(), ip.clone());
            flood.push(tokio::spawn(async move {
                let mut seen = BTreeMap::<u16, usize>::new();
                while !stop.is_cancelled() {
                    let res = search_from(&app, &ip, &uncached_query()).await;
                    *seen.entry(res.status).or_default() += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if res.status == 429 {
                        let secs = res.header("retry-after").unwrap();
                        let wait = Duration::from_secs(secs.parse().unwrap());
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = stop.cancelled() => {}
                        }
                    }
                }
                seen
            }));
        }
    }
    let flooding = eventually(Duration::from_secs(5), || async {
        (sent.load(Ordering::Relaxed) >= 200).then_some(())
    })
    .await;
    assert!(flooding.is_some(), "the flood never got going");

    // Another client's searches, each never asked before, are answered meanwhile.
    let mut answers = Vec::new();
    for _ in 0..10 {
        let res = search_from(&app, "198.51.100.7", &uncached_query()).await;
        answers.push((res.status, res.json()["code"].clone()));
    }
    stop.cancel();
    let mut flooded = BTreeMap::<u16, usize>::new();
    for task in join_all(flood).await {
        for (status, n) in task.unwrap() {
            *flooded.entry(status).or_default() += n;
        }
    }
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "the other client's searches: {answers:?}; the flood's answers: {flooded:?}"
    );
    // Each flooding address had more searches in flight than it may: refused at once.
    assert!(flooded.get(&429).is_some_and(|n| *n > 0), "{flooded:?}");
    assert!(
        flooded.keys().all(|s| [200, 429, 503].contains(s)),
        "{flooded:?}"
    );
}

#[tokio::test]
async fn queries_over_the_cost_bound_are_refused_naming_q() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &BEHIND_PROXY).await;
    for q in [
        "one two three four five six seven eight nine",
        "invoice -a -b -c -d -e",
        "a or b or c or d or e or f",
        // Punctuation separates words as well as spaces do.
        "one,two,three,four,five,six,seven,eight,nine",
        "\"one two three four five six seven eight nine\"",
    ] {
        let res = search_from(&app, "203.0.113.1", q).await;
        assert_eq!(res.status, 400, "{q}: {}", res.body);
        let body = res.json();
        assert_eq!(body["code"], "invalid_query", "{q}");
        assert_eq!(body["errors"][0]["field"], "q", "{q}: {body}");
    }
    // At the bound: answered.
    for q in [
        "one two three four five six seven eight",
        "invoice report -a -b -c -d",
        "a or b or c or d or e",
    ] {
        let res = search_from(&app, "203.0.113.1", q).await;
        assert_eq!(res.status, 200, "{q}: {}", res.body);
    }
}

#[tokio::test]
async fn a_burst_from_one_address_is_capped_while_another_address_is_served() {
    let env = TestEnv::new().await.unwrap();
    let mut overrides = BEHIND_PROXY.to_vec();
    overrides.extend([
        ("MARKETPLACE_SEARCH_IP_CONCURRENCY", "2"),
        ("MARKETPLACE_SEARCH_CONCURRENCY", "1"),
        ("MARKETPLACE_SEARCH_TIMEOUT_MS", "10000"),
    ]);
    let app = Arc::new(spawn(&env, &overrides).await);
    // A database that does not answer yet: every browse (no text) that reaches it waits.
    let mut db = env.db.client().await.unwrap();
    let lock = db.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE marketplace.listings IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let burst: Vec<_> = (0..10)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { get_from(&app, "203.0.113.1", &uncached_browse()).await })
        })
        .collect();
    // Two are admitted and wait for the database; the others are refused at once.
    let refused = Arc::new(AtomicUsize::new(0));
    let mut waiting = Vec::new();
    for task in burst {
        let refused = refused.clone();
        waiting.push(tokio::spawn(async move {
            let res = task.await.unwrap();
            if res.status == 429 {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            res
        }));
    }
    let eight = eventually(Duration::from_secs(5), || async {
        (refused.load(Ordering::Relaxed) == 8).then_some(())
    })
    .await;
    assert!(
        eight.is_some(),
        "{} of 10 refused",
        refused.load(Ordering::Relaxed)
    );
    // Another address is admitted meanwhile: three searches in flight, none answered.
    let other = {
        let app = app.clone();
        tokio::spawn(async move { get_from(&app, "198.51.100.7", &uncached_browse()).await })
    };
    let admitted = eventually(Duration::from_secs(5), || async {
        (in_flight(&app).await == 3.0).then_some(())
    })
    .await;
    assert!(admitted.is_some(), "{} in flight", in_flight(&app).await);
    assert!(!other.is_finished());
    lock.rollback().await.unwrap();
    let other = other.await.unwrap();
    assert_eq!(other.status, 200, "{}", other.body);

    let mut statuses = Vec::new();
    for task in waiting {
        let res = task.await.unwrap();
        if res.status == 429 {
            let body = res.json();
            assert_eq!(body["code"], "rate_limited", "{body}");
            assert_eq!(res.header("retry-after"), Some("1"));
            assert_eq!(res.header("content-type"), Some("application/problem+json"));
        }
        statuses.push(res.status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
    // Once they are answered, the address may search again.
    let again = get_from(&app, "203.0.113.1", &uncached_browse()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(in_flight(&app).await, 0.0);
}

/// `agentidp_marketplace_searches_in_flight`: uncached searches admitted, waiting or running.
async fn in_flight(app: &App) -> f64 {
    let body = app.client.get("/metrics").await.unwrap().body;
    body.lines()
        .find(|l| l.starts_with("agentidp_marketplace_searches_in_flight"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(-1.0)
}
