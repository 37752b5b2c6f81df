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

#[tokio::test]
async fn the_last_word_matches_as_a_prefix_and_long_words_tolerate_typos_below_exact_matches() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Typo Labs").await;
    let invoice = s
        .register(
            &p,
            "Invoice Extractor",
            agent("Extracts fields.", json!({})),
        )
        .await;
    let receipt = s
        .register(&p, "Receipt Scanner", agent("Scans receipts.", json!({})))
        .await;
    // Its name holds a typo of "invoice" (one edit): found by "invoice", below the exact match.
    let typo = s
        .register(&p, "Invoise Tracker", agent("Tracks payments.", json!({})))
        .await;
    let summarizer = s
        .register(&p, "Summarizer Bot", agent("Condenses text.", json!({})))
        .await;
    s.caught_up().await;
    for (q, want) in [
        // Search as you type: the last word is a prefix.
        ("invoic", vec![&invoice]),
        ("extractor+invoi", vec![&invoice]),
        ("scann", vec![&receipt]),
        // A transposition, a missing letter, a wrong letter: one edit from 5 letters.
        ("invioce+extractor", vec![&invoice]),
        ("extractr+invoice", vec![&invoice]),
        ("recipt", vec![&receipt]),
        // Two edits from 9 letters.
        ("sumarizre", vec![&summarizer]),
        // The exact word first, then its typo.
        ("invoice", vec![&invoice, &typo]),
        // An exclusion is exact.
        ("invoice+-tracker", vec![&invoice]),
    ] {
        let res = search(&s.market, &format!("q={q}")).await;
        let want: Vec<&str> = want.iter().map(|w| w.as_str()).collect();
        assert_eq!(ids(&res), want, "q={q}: {}", res.body);
    }
    for q in [
        // A prefix only for the last word; two edits are too many below 9 letters; no typos
        // below 5 letters.
        "invoi+extractor",
        "ivoce",
        "scnr",
    ] {
        assert_eq!(
            ids(&search(&s.market, &format!("q={q}")).await),
            Vec::<String>::new(),
            "q={q}"
        );
    }
    // Every match ranked, and paged one at a time: the same order.
    let all = ids(&search(&s.market, "q=invoice+or+receipt").await);
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(
        all_pages(&s.market, "q=invoice+or+receipt&limit=1", 10).await,
        all
    );
}
