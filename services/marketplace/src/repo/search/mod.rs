//! The search query.
//!
//! The SQL is assembled from the filters present, so each combination gets its own plan
//! with the indexes that fit it (full text: GIN on `search`; no text: the partial
//! `(created_at, id)` index, or its per-type and per-publisher variants). A text whose rank
//! is one lexeme's (`search_lexeme`: one word, possibly with one-word exclusions, e.g.
//! `q=invoices` or `q=invoice -pdf`) reads its page from `listing_terms` instead, which
//! holds each listing's rank for each of its lexemes in result order: a common word costs a
//! page of index entries rather than ranking every match. Words joined by `or`
//! (`search_or_lexemes`) walk each word's postings the same way, skipping listings that
//! contain another of the words (whose rank is not one word's), and rank on the spot only
//! the listings that contain several (`postings.rs`). Exclusions and filters drop postings,
//! so each walk is capped (`walk_cap`); a page a walk cannot fill within the cap, while more
//! postings remain, is searched the general way (`general.rs`). Two words that match many
//! listings (`pair.rs`) rank those with both words in the name, and then only the others
//! that a bound on cover density lets reach that page. All ways rank with the same `ts_rank_cd`, so they return
//! the same order and their cursors are interchangeable.
//!
//! Queries run as unnamed statements (`query_typed`: one round trip, always planned with
//! the actual values, which matters for text-search selectivity), in a read-only,
//! repeatable-read transaction that turns JIT compilation and parallel workers off (they
//! would cost more than they save on these queries), bounds the statement's time, and reads
//! the listing version of the same snapshot (what the response cache checks the result
//! against). [`crate::repo::versions::matching`] repeats the predicate for cache
//! invalidation: keep both in step.

mod general;
mod pair;
mod postings;
mod sql;
mod stats;

use std::time::Duration;

use platform::db::Client;
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::Type;

use super::listings::row;
use crate::listing::Listing;
use crate::search::filter::After;
use crate::search::request::SearchRequest;
use sql::Values;

pub use stats::{LexemeStats, STATS_TTL, StatsCache};

/// A search result with its sort key.
#[derive(Debug)]
pub struct Hit {
    /// The listing.
    pub listing: Listing,
    /// Its position in the result order (for the next page's cursor).
    pub key: After,
}

/// How searches run.
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings<'a> {
    /// The statement timeout.
    pub timeout: Duration,
    /// Estimated matches from which a two-word search ranks only the listings that can make
    /// the page (`pair.rs`; `Config`).
    pub pair_matches_min: f64,
    /// What the estimate is made from; `None` before the postings have statistics.
    pub stats: Option<&'a LexemeStats>,
}

/// Up to `fetch` results of `req` after its cursor, and the listing version they reflect.
pub async fn search(
    client: &mut Client,
    req: &SearchRequest,
    fetch: i64,
    settings: &SearchSettings<'_>,
) -> Result<(i64, Vec<Hit>), tokio_postgres::Error> {
    let values = Values {
        filter: &req.filter,
        agent_type: req.filter.agent_type.map(domain::AgentType::as_str),
        capability: req
            .filter
            .capability
            .as_ref()
            .map(domain::Capability::as_str),
        tag: req.filter.tag.as_ref().map(domain::Tag::as_str),
        after: req.after,
        limit: fetch,
    };
    let (exact, rank) = match req.after {
        Some(After::Ranked { exact, rank, .. }) => (exact, rank),
        _ => (false, 0.0),
    };
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let timeout_ms = settings.timeout.as_millis().to_string();
    let setup = tx
        .query_typed(
            "SELECT set_config('jit', 'off', true),
                    set_config('max_parallel_workers_per_gather', '0', true),
                    set_config('client_min_messages', 'warning', true),
                    set_config('statement_timeout', $1, true),
                    (SELECT version FROM listing_version),
                    search_lexeme($2),
                    search_or_lexemes($2),
                    search_lexeme_pair($2)",
            &[(&timeout_ms, Type::TEXT), (&req.filter.text, Type::TEXT)],
        )
        .await?;
    let first = setup.first();
    let version: i64 = first.map_or(0, |r| r.get(4));
    let one: Option<String> = first.and_then(|r| r.get(5));
    let or: Option<Vec<String>> = first.and_then(|r| r.get(6));
    let pair: Option<Vec<String>> = first.and_then(|r| r.get(7));
    // Without statistics, the full-text index, unless told always.
    let pair = pair.filter(|p| {
        settings.pair_matches_min <= 0.0
            || settings
                .stats
                .is_some_and(|s| s.pair_matches(&p[0], &p[1]) >= settings.pair_matches_min)
    });
    let lexemes = one.map(|l| vec![l]).or(or);
    let mut rows = None;
    // The postings serve one word, words joined by `or` and two words, except by publisher:
    // a publisher's few listings are found faster through its own index.
    if let (Some(text), None) = (&req.filter.text, &req.filter.publisher) {
        if let Some(lexemes) = &lexemes {
            rows = postings::search_terms(&tx, &values, text, lexemes, &rank).await?;
        } else if let Some(pair) = &pair {
            rows = pair::search_pair(&tx, &values, text, pair, &rank).await?;
        }
    }
    let rows = match rows {
        Some(rows) => rows,
        None => {
            let (sql, params) = general::build(&values, &exact, &rank);
            tx.query_typed(&sql, &params.list).await?
        }
    };
    tx.commit().await?;
    let ranked = req.filter.text.is_some();
    let hits = rows
        .iter()
        .map(|r| {
            let listing = row(r);
            let key = if ranked {
                After::Ranked {
                    exact: r.get("exact"),
                    rank: r.get("rank"),
                    id: listing.id,
                }
            } else {
                After::Recent {
                    created_at: listing.created_at,
                    id: listing.id,
                }
            };
            Hit { listing, key }
        })
        .collect();
    Ok((version, hits))
}
