//! HTTP caching, the response cache across instances, the feature flag and per-IP limits.

use serde_json::json;
use testkit::{TestEnv, eventually};

use crate::helpers::{Stack, WITHIN, agent, ids, search, shows, spawn};

#[tokio::test]
async fn responses_carry_an_etag_and_cache_control_and_answer_304_when_unchanged() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Etag Labs").await;
    let id = s.register(&p, "Gecko Lead Scorer", json!({})).await;
    assert!(shows(&s.market, "q=gecko", &id, true).await);

    for path in [
        "/api/v1/marketplace/agents?q=gecko".to_owned(),
        format!("/api/v1/marketplace/agents/{id}"),
    ] {
        let first = s.market.client.get(&path).await.unwrap();
        assert_eq!(first.status, 200);
        assert_eq!(first.header("cache-control"), Some("public, max-age=1"));
        assert_eq!(first.header("content-type"), Some("application/json"));
        let etag = first.header("etag").unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        // Equal bodies, equal tags.
        let again = s.market.client.get(&path).await.unwrap();
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert_eq!(again.body, first.body);

        let conditional = s
            .market
            .client
            .send(
                s.market
                    .client
                    .request(reqwest::Method::GET, &path)
                    .header("if-none-match", &etag),
            )
            .await
            .unwrap();
        assert_eq!(conditional.status, 304, "{path}");
        assert_eq!(conditional.body, "");
        assert_eq!(conditional.header("etag"), Some(etag.as_str()));
        assert_eq!(
            conditional.header("cache-control"),
            Some("public, max-age=1")
        );
    }

    // A change gives a new tag: the old one no longer matches.
    let etag = search(&s.market, "q=gecko")
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    s.patch(
        &p,
        &id,
        json!({"description": "Scores gecko leads by fit."}),
    )
    .await;
    let changed = eventually(WITHIN, || async {
        let req = s
            .market
            .client
            .request(reqwest::Method::GET, "/api/v1/marketplace/agents?q=gecko")
            .header("if-none-match", &etag);
        let res = s.market.client.send(req).await.ok()?;
        (res.status == 200 && res.body.contains("by fit")).then_some(())
    })
    .await;
    assert!(changed.is_some(), "the edit never showed");
}

#[tokio::test]
async fn every_instance_drops_a_changed_listing_from_its_cached_responses() {
    let s = Stack::start(&[]).await;
    let other = s.another(&[]).await;
    let p = s.publisher("Cache Labs").await;
    let id = s
        .register(
            &p,
            "Ibis Contract Summarizer",
            agent("Summarizes ibis contracts.", json!({"tags": ["ibis"]})),
        )
        .await;
    let keep = s
        .register(
            &p,
            "Ibis Receipt Parser",
            agent("Parses ibis receipts.", json!({"tags": ["ibis"]})),
        )
        .await;
    s.caught_up().await;
    let queries = [
        "q=ibis",
        "tag=ibis",
        "q=contract",
        "tag=ibis&agent_type=classifier",
    ];
    for app in [&s.market, &other] {
        for q in queries {
            assert!(shows(app, q, &id, true).await, "{q}");
            // Served from the cache now.
            search(app, q).await;
        }
    }
    let before = metric(&other, "result=\"hit\"").await;
    assert!(before > 0.0, "the cache was never hit");

    s.lifecycle(&p, &id, "suspend").await;
    for app in [&s.market, &other] {
        for q in queries {
            assert!(
                shows(app, q, &id, false).await,
                "{q}: still shown 2 s after suspension"
            );
        }
    }
    // Unrelated cached answers survive and stay right.
    assert_eq!(ids(&search(&other, "q=receipt").await), [keep.as_str()]);
    assert!(shows(&other, "q=receipt", &keep, true).await);

    s.lifecycle(&p, &id, "reactivate").await;
    for app in [&s.market, &other] {
        assert!(shows(app, "tag=ibis", &id, true).await, "not restored");
    }
}

#[tokio::test]
async fn a_cached_page_learns_of_a_listing_that_sorts_into_it_and_ignores_one_below_it() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Range Labs").await;
    for i in 0..5 {
        let body = agent("Finds numbat dens.", json!({"tags": ["numbat"]}));
        s.register(&p, &format!("Numbat Finder {i}"), body).await;
    }
    s.caught_up().await;
    let first = search(&s.market, "q=numbat&limit=2").await;
    let cursor = first.json()["next_cursor"].as_str().unwrap().to_owned();
    let second_page = format!("q=numbat&limit=2&cursor={cursor}");
    let second = search(&s.market, &second_page).await;
    search(&s.market, "tag=numbat&limit=2").await;

    // Ranks below every cached page: no cached page changes.
    let low = s
        .register(
            &p,
            "Plain Finder",
            agent("Mentions a numbat once.", json!({})),
        )
        .await;
    assert!(shows(&s.market, "q=numbat&limit=100", &low, true).await);
    let misses = metric(&s.market, "result=\"miss\"").await;
    assert_eq!(search(&s.market, "q=numbat&limit=2").await.body, first.body);
    assert_eq!(search(&s.market, &second_page).await.body, second.body);
    assert_eq!(
        metric(&s.market, "result=\"miss\"").await,
        misses,
        "a page was recomputed"
    );

    // An exact name match sorts first; a newer listing is the newest.
    let top = s
        .register(
            &p,
            "Numbat",
            agent("The numbat one.", json!({"tags": ["numbat"]})),
        )
        .await;
    assert!(
        shows(&s.market, "q=numbat&limit=2", &top, true).await,
        "page 1 kept its old answer"
    );
    assert_eq!(ids(&search(&s.market, "q=numbat&limit=2").await)[0], top);
    assert!(shows(&s.market, "tag=numbat&limit=2", &top, true).await);
    // A listing that sorts into the second page shows there.
    let onto_second = ids(&second)[0].clone();
    s.patch(
        &p,
        &onto_second,
        json!({"description": "Edited numbat finder."}),
    )
    .await;
    let edited = eventually(WITHIN, || async {
        let res = search(&s.market, &second_page).await;
        res.body.contains("Edited numbat finder.").then_some(())
    })
    .await;
    assert!(
        edited.is_some(),
        "the second page kept an edited listing's old text"
    );
}

async fn metric(app: &testkit::TestApp<marketplace::State>, label: &str) -> f64 {
    let body = app.client.get("/metrics").await.unwrap().body;
    body.lines()
        .find(|l| l.starts_with("agentidp_marketplace_cache_requests_total") && l.contains(label))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_disabled_marketplace_answers_404_on_every_route() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &[("MARKETPLACE_ENABLED", "false")]).await;
    for path in [
        "/api/v1/marketplace/agents",
        "/api/v1/marketplace/agents?q=anything",
        "/api/v1/marketplace/agents/0190f5e2-0000-7000-8000-000000000000",
        "/api/v1/marketplace/elsewhere",
    ] {
        let res = app.client.get(path).await.unwrap();
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        assert_eq!(res.json()["code"], "not_found");
    }
    assert_eq!(app.client.get("/health/ready").await.unwrap().status, 200);
}

#[tokio::test]
async fn marketplace_routes_are_limited_per_client_ip() {
    let env = TestEnv::new().await.unwrap();
    // The test's requests come from loopback, trusted here as the proxy in front.
    let app = spawn(
        &env,
        &[
            ("RATE_LIMIT_MAX_REQUESTS", "3"),
            ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    )
    .await;
    let detail = "/api/v1/marketplace/agents/0190f5e2-0000-7000-8000-000000000000";
    for (i, path) in [
        "/api/v1/marketplace/agents?q=x",
        detail,
        "/api/v1/marketplace/agents",
    ]
    .into_iter()
    .enumerate()
    {
        let res = app.client.get(path).await.unwrap();
        assert_ne!(res.status, 429, "{path}");
        assert_eq!(
            res.header("ratelimit-remaining"),
            Some((2 - i).to_string().as_str())
        );
    }
    let refused = app.client.get(detail).await.unwrap();
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "rate_limited");
    assert!(refused.header("retry-after").is_some());
    // Another client behind that proxy has its own budget.
    let req = app
        .client
        .request(reqwest::Method::GET, "/api/v1/marketplace/agents")
        .header("x-forwarded-for", "203.0.113.9");
    assert_eq!(app.client.send(req).await.unwrap().status, 200);
}
