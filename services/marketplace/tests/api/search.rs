//! Full-text search, filters, keyset pagination and parameter validation.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{Stack, agent, ids, search, shows};

#[tokio::test]
async fn an_exact_name_match_ranks_first_then_name_above_capabilities_and_description() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Rank Labs").await;
    // Registered first, so the id tie-break would put it last; its rank alone (name only)
    // is below the next one's (name and description).
    let exact = s
        .register(&p, "Quokka", agent("Plain helper.", json!({})))
        .await;
    let in_name = s
        .register(
            &p,
            "Quokka Invoice Helper",
            agent("Helps every quokka team.", json!({})),
        )
        .await;
    let in_capability = s
        .register(
            &p,
            "Billing Helper",
            agent("Plain helper.", json!({"capabilities": ["quokka:read"]})),
        )
        .await;
    let in_description = s
        .register(
            &p,
            "Plain Helper",
            agent("Works with quokka data.", json!({})),
        )
        .await;
    let unrelated = s
        .register(&p, "Wallaby Helper", agent("Plain helper.", json!({})))
        .await;
    s.caught_up().await;

    for q in ["quokka", "QUOKKA", "  Quokka "] {
        let res = search(&s.market, &format!("q={}", q.replace(' ', "+"))).await;
        assert_eq!(
            ids(&res),
            [&exact, &in_name, &in_capability, &in_description].map(String::as_str),
            "q={q:?}: {}",
            res.body
        );
    }
    // Paged one at a time, across the boundary between the exact match and the others.
    let paged = all_pages(&s.market, "q=quokka&limit=1", 10).await;
    assert_eq!(
        paged,
        [&exact, &in_name, &in_capability, &in_description].map(String::as_str)
    );
    // A full name: that agent first, then the others that match every word.
    let res = search(&s.market, "q=quokka+invoice+helper").await;
    assert_eq!(ids(&res).first(), Some(&in_name), "{}", res.body);
    // Stemming: the plural finds the singular.
    let res = search(&s.market, "q=invoices").await;
    assert_eq!(ids(&res), [in_name.as_str()]);
    // websearch syntax: exclusion.
    let res = search(&s.market, "q=helper+-quokka").await;
    assert_eq!(ids(&res), [unrelated.as_str()]);
}

#[tokio::test]
async fn filters_narrow_by_type_capability_tag_and_publisher() {
    let s = Stack::start(&[]).await;
    let a = s.publisher("Filter Alpha").await;
    let b = s.publisher("Filter Beta").await;
    let a1 = s
        .register(
            &a,
            "Okapi Router",
            agent("Routes okapi tickets.", json!({"agent_type": "router", "tags": ["okapi", "eu"], "capabilities": ["tickets:route"]})),
        )
        .await;
    let a2 = s
        .register(
            &a,
            "Okapi Monitor",
            agent("Watches okapi queues.", json!({"agent_type": "monitor", "tags": ["okapi"], "capabilities": ["queues:read"]})),
        )
        .await;
    let b1 = s
        .register(
            &b,
            "Okapi Router Two",
            agent("Routes okapi mail.", json!({"agent_type": "router", "tags": ["okapi", "us"], "capabilities": ["tickets:route", "mail:read"]})),
        )
        .await;
    s.caught_up().await;

    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let expect = |v: &[&String]| v.iter().map(|s| (*s).clone()).collect::<HashSet<_>>();
    for (query, expected) in [
        ("tag=okapi", expect(&[&a1, &a2, &b1])),
        ("tag=okapi&agent_type=router", expect(&[&a1, &b1])),
        ("tag=okapi&capability=tickets:route", expect(&[&a1, &b1])),
        ("capability=mail:read", expect(&[&b1])),
        ("tag=okapi&publisher=filter+alpha", expect(&[&a1, &a2])),
        ("tag=EU", expect(&[&a1])),
        ("q=okapi&agent_type=monitor", expect(&[&a2])),
        (
            "q=okapi&publisher=Filter+Beta&capability=tickets:route",
            expect(&[&b1]),
        ),
        ("q=okapi&tag=us&agent_type=monitor", expect(&[])),
    ] {
        assert_eq!(
            set(ids(&search(&s.market, query).await)),
            expected,
            "{query}"
        );
    }
    // Without q: newest first.
    assert_eq!(
        ids(&search(&s.market, "tag=okapi").await),
        [&b1, &a2, &a1].map(String::as_str)
    );
}

/// Pages through `query` `limit` at a time, registering a new matching agent before each
/// page; returns every id seen.
async fn page_while_adding(
    s: &Stack,
    p: &crate::helpers::Publisher,
    query: &str,
    n: &mut usize,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        // Some new agents outrank the old ones (and are newer), some rank below them.
        let (name, tags) = if n.is_multiple_of(2) {
            ("Numbat Numbat Scout", json!(["numbat"]))
        } else {
            ("Plain Scout", json!(["scout"]))
        };
        let body = agent("Finds numbat burrows.", json!({ "tags": tags }));
        s.register(p, &format!("{name} {n}"), body).await;
        *n += 1;
        let q = match &cursor {
            Some(c) => format!("{query}&limit=4&cursor={c}"),
            None => format!("{query}&limit=4"),
        };
        let res = search(&s.market, &q).await;
        seen.extend(ids(&res));
        match res.json()["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn paging_while_agents_are_added_yields_no_duplicates_and_no_gaps() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Paging Labs").await;
    let mut before = Vec::new();
    for i in 0..14 {
        let name = if i % 3 == 0 {
            format!("Numbat Finder {i}")
        } else {
            format!("Finder {i}")
        };
        before.push(
            s.register(
                &p,
                &name,
                agent("Finds numbat burrows.", json!({"tags": ["numbat"]})),
            )
            .await,
        );
    }
    s.caught_up().await;
    let mut n = 0;
    for query in ["q=numbat", "tag=numbat"] {
        let seen = page_while_adding(&s, &p, query, &mut n).await;
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{query}: a listing came twice: {seen:?}"
        );
        for id in &before {
            assert!(unique.contains(id), "{query}: {id} was skipped");
        }
    }
}

#[tokio::test]
async fn bad_query_parameters_are_400_problems_naming_the_parameter() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Strict Labs").await;
    for i in 0..3 {
        s.register(&p, &format!("Dingo Helper {i}"), json!({}))
            .await;
    }
    s.caught_up().await;
    let page = search(&s.market, "q=dingo&limit=1").await;
    let dingo_cursor = page.json()["next_cursor"].as_str().unwrap().to_owned();
    let long = "x".repeat(201);
    for (query, field) in [
        ("colour=red".to_owned(), "colour"),
        ("q=a&q=b".to_owned(), "q"),
        (format!("q={long}"), "q"),
        ("limit=0".to_owned(), "limit"),
        ("limit=101".to_owned(), "limit"),
        ("limit=many".to_owned(), "limit"),
        ("agent_type=robot".to_owned(), "agent_type"),
        ("capability=read".to_owned(), "capability"),
        ("tag=two+words".to_owned(), "tag"),
        ("cursor=garbage".to_owned(), "cursor"),
        (format!("q=helper&cursor={dingo_cursor}"), "cursor"),
        (format!("cursor={dingo_cursor}"), "cursor"),
    ] {
        let res = s
            .market
            .client
            .get(&format!("/api/v1/marketplace/agents?{query}"))
            .await
            .unwrap();
        assert_eq!(res.status, 400, "{query}: {}", res.body);
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let body = res.json();
        assert_eq!(body["code"], "invalid_query", "{query}");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // The cursor works where it belongs.
    let next = search(&s.market, &format!("q=dingo&limit=1&cursor={dingo_cursor}")).await;
    assert_eq!(ids(&next).len(), 1);
    assert_ne!(ids(&next), ids(&page));
    // Empty values are absent values.
    search(&s.market, "q=&tag=&agent_type=&cursor=").await;
}

#[tokio::test]
async fn a_stop_word_query_matches_only_exact_names() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Words Labs").await;
    let the = s.register(&p, "The", json!({})).await;
    assert!(shows(&s.market, "q=the", &the, true).await);
    s.caught_up().await;
    assert_eq!(ids(&search(&s.market, "q=THE").await), [the.as_str()]);
}

/// Every id of a search, following its cursors.
async fn all_pages(
    app: &testkit::TestApp<marketplace::State>,
    query: &str,
    max_pages: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let res = search(app, &q).await;
        out.extend(ids(&res));
        match res.json()["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    out
}

/// The order every text search promises, computed by ranking every match: exact name first,
/// then ts_rank_cd, then id, both descending.
async fn ranked_everything(env: &testkit::TestEnv, q: &str, filter: &str) -> Vec<String> {
    let db = env.db.client().await.unwrap();
    db.query(
        &format!(
            "SELECT l.id::text FROM marketplace.listings l, websearch_to_tsquery('english', $1) q
              WHERE l.visible AND (l.search @@ q OR lower(l.name) = $1) {filter}
              ORDER BY lower(l.name) = $1 DESC, ts_rank_cd(l.search, q) DESC, l.id DESC"
        ),
        &[&q],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn postings_searches_return_exactly_the_order_of_ranking_every_match() {
    let env = testkit::TestEnv::new().await.unwrap();
    let app = crate::helpers::spawn(&env, &[("RATE_LIMIT_MAX_REQUESTS", "1000000")]).await;
    let config = marketplace::Config::from_env(&crate::helpers::with(env.env(), &[])).unwrap();
    marketplace::seed_listings(&config, 6_000, 2_000, 11)
        .await
        .unwrap();
    let db = env.db.client().await.unwrap();
    // The capability whose first listing comes latest in the results for "read": a page of
    // it needs more postings than a filtered search may read, so it is ranked the general way.
    let late = db
        .query_one(
            "SELECT c, min(pos) FROM (
                 SELECT l.capabilities, row_number() OVER (
                            ORDER BY ts_rank_cd(l.search, q) DESC, l.id DESC) AS pos
                   FROM marketplace.listings l, websearch_to_tsquery('english', 'read') q
                  WHERE l.visible AND l.search @@ q) r, unnest(capabilities) c
              GROUP BY c ORDER BY min(pos) DESC, c LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (capability, first): (String, i64) = (late.get(0), late.get(1));
    assert!(first > 1_200, "{capability} first at {first}");
    let tag = "gdpr";

    // Whole result sets, page by page: a common word (thousands of matches), a word of the
    // names and one of the descriptions; the plural finds the singular's stem; exclusions;
    // words joined by `or`, where listings with several of the words are ranked on the spot.
    for q in [
        "read",
        "invoices",
        "extractor",
        "teams",
        "read -teams -finance",
        "-pdf invoices",
        "invoices or extractor",
        "read OR teams",
        "teams or pdf or finance",
        // Ranked the general way: a repeated lexeme, a hyphenated word (three lexemes).
        "invoices or invoice",
        "e-invoice or pdf",
    ] {
        let want = ranked_everything(&env, q, "").await;
        assert!(want.len() > 100, "{q}: {} matches", want.len());
        let query = format!("q={}&limit=100", q.replace(' ', "+"));
        assert_eq!(all_pages(&app, &query, 100).await, want, "{q}");
    }
    // First pages with filters, small pages so the postings' walk runs out early.
    for (q, filter, sql) in [
        (
            "read",
            format!("tag={tag}"),
            format!("AND l.tags @> ARRAY['{tag}']"),
        ),
        (
            "read",
            format!("capability={capability}"),
            format!("AND l.capabilities @> ARRAY['{capability}']"),
        ),
        (
            "invoices",
            "agent_type=classifier".into(),
            "AND l.agent_type = 'classifier'".into(),
        ),
        (
            "teams",
            "tag=pdf".into(),
            "AND l.tags @> ARRAY['pdf']".into(),
        ),
        (
            "read -teams",
            format!("tag={tag}"),
            format!("AND l.tags @> ARRAY['{tag}']"),
        ),
        (
            "invoices or read",
            format!("capability={capability}"),
            format!("AND l.capabilities @> ARRAY['{capability}']"),
        ),
        (
            "extractor or teams or pdf",
            "agent_type=classifier".into(),
            "AND l.agent_type = 'classifier'".into(),
        ),
    ] {
        let want = ranked_everything(&env, q, &sql).await;
        let query = format!("q={}&{filter}&limit=5", q.replace(' ', "+"));
        let got = all_pages(&app, &query, 4).await;
        assert_eq!(got, want[..want.len().min(20)], "q={q}&{filter}");
    }
}

#[tokio::test]
async fn two_word_searches_return_exactly_the_order_of_ranking_every_match() {
    let env = testkit::TestEnv::new().await.unwrap();
    // Every two-word search takes the bound (a catalogue this small never needs it).
    let app = crate::helpers::spawn(
        &env,
        &[
            ("RATE_LIMIT_MAX_REQUESTS", "1000000"),
            ("MARKETPLACE_PAIR_MATCHES_MIN", "0"),
        ],
    )
    .await;
    let config = marketplace::Config::from_env(&crate::helpers::with(env.env(), &[])).unwrap();
    marketplace::seed_listings(&config, 6_000, 2_000, 11)
        .await
        .unwrap();
    let db = env.db.client().await.unwrap();
    // The bound only narrows the search if listings without both words in the name can still
    // make the page: these pairs have both (names are "<brand> <object> <role> <suffix>",
    // capabilities repeat the objects and the roles' verbs).
    let row = db
        .query_one(
            "SELECT count(*) FILTER (WHERE a.in_name AND b.in_name),
                    count(*) FILTER (WHERE NOT (a.in_name AND b.in_name)
                                       AND a.occurrences >= 2 AND b.occurrences >= 2)
               FROM marketplace.listing_terms a JOIN marketplace.listing_terms b USING (id)
              WHERE a.lexeme = 'imag' AND b.lexeme = 'classifi'",
            &[],
        )
        .await
        .unwrap();
    let (named, repeated): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        named >= 3 && repeated >= 10,
        "{named} named, {repeated} repeated"
    );
    // And one listing without the words in its name that outranks the names: only the
    // bound's second step finds it.
    let crafted: uuid::Uuid = db
        .query_one(
            "INSERT INTO marketplace.listings (id, tenant_id, publisher, name, description,
                 agent_type, version, capabilities, tags, deployment_env, status, listed, did,
                 public_jwk, created_at, updated_at, feed_tx, feed_seq, changed_version)
             SELECT gen_random_uuid(), tenant_id, publisher, 'Zeta Vision Sorter',
                    'Image classifier for image classifier pipelines: image classifier, image classifier.',
                    agent_type, version, capabilities, ARRAY['image', 'classifier'], deployment_env,
                    'active', true, did, public_jwk, created_at, updated_at, 0, 0, changed_version
               FROM marketplace.listings WHERE visible LIMIT 1
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let first = ranked_everything(&env, "image classifier", "").await;
    assert_eq!(first[0], crafted.to_string());

    // First pages of every size that lets the names fill a page, paged on: pages after the
    // names run out are ranked the general way, and both ways hand out the same cursors.
    for q in [
        "image classifier",
        "classifier images",
        "image monitor",
        "approver review",
        "post summarizer",
        "summarizer pro",
        "cloud monitor",
        "monitor cloud -finance",
    ] {
        let want = ranked_everything(&env, q, "").await;
        assert!(want.len() > 20, "{q}: {} matches", want.len());
        for limit in [1, 2, 5] {
            let query = format!("q={}&limit={limit}", q.replace(' ', "+"));
            let got = all_pages(&app, &query, 6).await;
            assert_eq!(
                got,
                want[..want.len().min(6 * limit)],
                "q={q}&limit={limit}"
            );
        }
    }
    for (q, filter, sql) in [
        ("cloud monitor", "tag=gdpr", "AND l.tags @> ARRAY['gdpr']"),
        (
            "summarizer pro",
            "agent_type=summarizer",
            "AND l.agent_type = 'summarizer'",
        ),
    ] {
        let want = ranked_everything(&env, q, sql).await;
        let query = format!("q={}&{filter}&limit=2", q.replace(' ', "+"));
        let got = all_pages(&app, &query, 4).await;
        assert_eq!(got, want[..want.len().min(8)], "q={q}&{filter}");
    }
}
