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
//! the listings that contain several. Exclusions and filters drop postings, so each walk is
//! capped ([`walk_cap`]); a page a walk cannot fill within the cap, while more postings
//! remain, is searched the general way. Both ways rank with the same `ts_rank_cd`, so they
//! return the same order and their cursors are interchangeable.
//!
//! Queries run as unnamed statements (`query_typed`: one round trip, always planned with
//! the actual values, which matters for text-search selectivity), in a read-only,
//! repeatable-read transaction that turns JIT compilation and parallel workers off (they
//! would cost more than they save on these queries), bounds the statement's time, and reads
//! the listing version of the same snapshot (what the response cache checks the result
//! against). [`crate::repo::versions::matching`] repeats the predicate for cache
//! invalidation: keep both in step.

use std::time::Duration;

use platform::db::Client;
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::{ToSql, Type};

use super::listings::{COLUMNS, row};
use crate::listing::Listing;
use crate::search::{After, SearchFilter, SearchRequest};

/// A search result with its sort key.
#[derive(Debug)]
pub struct Hit {
    /// The listing.
    pub listing: Listing,
    /// Its position in the result order (for the next page's cursor).
    pub key: After,
}

/// Positional parameters with their types.
#[derive(Default)]
struct Params<'a> {
    list: Vec<(&'a (dyn ToSql + Sync), Type)>,
}

impl<'a> Params<'a> {
    fn add(&mut self, v: &'a (dyn ToSql + Sync), t: Type) -> String {
        self.list.push((v, t));
        format!("${}", self.list.len())
    }
}

/// Values a query borrows its parameters from.
struct Values<'a> {
    filter: &'a SearchFilter,
    agent_type: Option<&'static str>,
    after: Option<After>,
    limit: i64,
}

fn build<'a>(
    v: &'a Values<'a>,
    after_exact: &'a bool,
    after_rank: &'a f32,
) -> (String, Params<'a>) {
    let f = v.filter;
    let mut p = Params::default();
    let mut sql = format!("SELECT {COLUMNS}");
    let q = f.text.as_ref().map(|text| p.add(text, Type::TEXT));
    match &q {
        Some(q) => {
            sql.push_str(&format!(
                ", lower(l.name) = lower({q}) AS exact, ts_rank_cd(l.search, query) AS rank
                 FROM listings l, websearch_to_tsquery('english', {q}) query
                 WHERE l.visible AND (l.search @@ query OR lower(l.name) = lower({q}))"
            ));
        }
        None => sql.push_str(" FROM listings l WHERE l.visible"),
    }
    push_filters(&mut sql, &mut p, v);
    match (&v.after, &q) {
        (Some(After::Ranked { id, .. }), Some(q)) => {
            let (e, r, i) = (
                p.add(after_exact, Type::BOOL),
                p.add(after_rank, Type::FLOAT4),
                p.add(id, Type::UUID),
            );
            sql.push_str(&format!(
                " AND (lower(l.name) = lower({q}), ts_rank_cd(l.search, query), l.id) < ({e}, {r}, {i})"
            ));
        }
        (Some(After::Recent { created_at, id }), None) => {
            let (c, i) = (p.add(created_at, Type::TIMESTAMPTZ), p.add(id, Type::UUID));
            sql.push_str(&format!(" AND (l.created_at, l.id) < ({c}, {i})"));
        }
        // A cursor always has its search's order (`search::decode_cursor`).
        _ => {}
    }
    sql.push_str(if q.is_some() {
        " ORDER BY exact DESC, rank DESC, l.id DESC"
    } else {
        " ORDER BY l.created_at DESC, l.id DESC"
    });
    sql.push_str(&format!(" LIMIT {}", p.add(&v.limit, Type::INT8)));
    (sql, p)
}

/// How many postings a one-word search reads for a page of `fetch` rows before it gives up
/// on them (only filters and exclusions make it read more than `fetch`).
fn walk_cap(fetch: i64) -> i64 {
    1_000 + 30 * fetch
}

/// The filters' conditions on `l`, appended to `sql`.
fn push_filters<'a>(sql: &mut String, p: &mut Params<'a>, v: &'a Values<'a>) {
    let f = v.filter;
    if let Some(t) = &v.agent_type {
        sql.push_str(&format!(" AND l.agent_type = {}", p.add(t, Type::TEXT)));
    }
    if let Some(c) = &f.capability {
        sql.push_str(&format!(
            " AND l.capabilities @> ARRAY[{}]",
            p.add(c, Type::TEXT)
        ));
    }
    if let Some(t) = &f.tag {
        sql.push_str(&format!(" AND l.tags @> ARRAY[{}]", p.add(t, Type::TEXT)));
    }
    if let Some(pb) = &f.publisher {
        sql.push_str(&format!(
            " AND lower(l.publisher) = lower({})",
            p.add(pb, Type::TEXT)
        ));
    }
}

/// The tsquery matching any of `lexemes` (`OR`), or all pairs of them (`pairs`).
fn lexemes_query<'a>(p: &mut Params<'a>, lexemes: &[&'a String], pairs: bool) -> String {
    let one: Vec<String> = lexemes
        .iter()
        .map(|lex| format!("lexeme_query({})", p.add(*lex, Type::TEXT)))
        .collect();
    let parts: Vec<String> = if pairs {
        let mut out = Vec::new();
        for (i, a) in one.iter().enumerate() {
            for b in &one[i + 1..] {
                out.push(format!("({a} && {b})"));
            }
        }
        out
    } else {
        one
    };
    format!("({})", parts.join(" || "))
}

/// A search from `listing_terms` for a text of one word (possibly with exclusions) or of
/// words joined by `or`. Its branches, each at most a page, best first, tagged `branch`:
/// 0, exact name matches (ranked on the spot: there are few); 1..=n, each word's postings
/// in order, at most `walk` of them, of listings that contain none of the other words (their
/// rank is that word's alone); n + 1 with several words, the listings that contain two or
/// more of them, ranked on the spot.
fn build_terms<'a>(
    v: &'a Values<'a>,
    text: &'a String,
    lexemes: &'a [String],
    after_rank: &'a f32,
    walk: &'a i64,
) -> (String, Params<'a>) {
    let mut p = Params::default();
    let q = p.add(text, Type::TEXT);
    let limit = p.add(&v.limit, Type::INT8);
    let walk = p.add(walk, Type::INT8);
    let rank = format!("ts_rank_cd(l.search, websearch_to_tsquery('english', {q}))");
    let after = match &v.after {
        Some(After::Ranked { exact, id, .. }) => Some((
            *exact,
            p.add(after_rank, Type::FLOAT4),
            p.add(id, Type::UUID),
        )),
        _ => None,
    };
    let mut branches = Vec::new();
    let mut exact = format!(
        "SELECT {COLUMNS}, true AS exact, {rank} AS rank, 0 AS branch
           FROM listings l WHERE l.visible AND lower(l.name) = lower({q})"
    );
    push_filters(&mut exact, &mut p, v);
    match &after {
        Some((true, r, i)) => exact.push_str(&format!(" AND ({rank}, l.id) < ({r}, {i})")),
        Some((false, ..)) => exact.push_str(" AND false"),
        None => {}
    }
    branches.push(format!(
        "{exact} ORDER BY rank DESC, l.id DESC LIMIT {limit}"
    ));
    for (n, lexeme) in lexemes.iter().enumerate() {
        let lex = p.add(lexeme, Type::TEXT);
        let mut postings = format!("SELECT id, rank FROM listing_terms WHERE lexeme = {lex}");
        if let Some((false, r, i)) = &after {
            postings.push_str(&format!(" AND (rank, id) < ({r}, {i})"));
        }
        postings.push_str(&format!(" ORDER BY rank DESC, id DESC LIMIT {walk}"));
        let mut ranked = format!(
            "SELECT {COLUMNS}, false AS exact, t.rank, {} AS branch
               FROM ({postings}) t JOIN listings l ON l.id = t.id
              WHERE l.visible AND lower(l.name) <> lower({q})
                AND l.search @@ websearch_to_tsquery('english', {q})",
            n + 1
        );
        let others: Vec<&String> = lexemes.iter().filter(|o| *o != lexeme).collect();
        if !others.is_empty() {
            let others = lexemes_query(&mut p, &others, false);
            ranked.push_str(&format!(" AND NOT l.search @@ {others}"));
        }
        push_filters(&mut ranked, &mut p, v);
        branches.push(format!(
            "{ranked} ORDER BY t.rank DESC, t.id DESC LIMIT {limit}"
        ));
    }
    if lexemes.len() > 1 {
        let all: Vec<&String> = lexemes.iter().collect();
        let several = lexemes_query(&mut p, &all, true);
        let mut overlap = format!(
            "SELECT {COLUMNS}, false AS exact, {rank} AS rank, {} AS branch
               FROM listings l
              WHERE l.visible AND lower(l.name) <> lower({q}) AND l.search @@ {several}",
            lexemes.len() + 1
        );
        push_filters(&mut overlap, &mut p, v);
        if let Some((false, r, i)) = &after {
            overlap.push_str(&format!(" AND ({rank}, l.id) < ({r}, {i})"));
        }
        branches.push(format!(
            "{overlap} ORDER BY rank DESC, l.id DESC LIMIT {limit}"
        ));
    }
    let sql = format!(
        "SELECT * FROM (({})) r ORDER BY exact DESC, rank DESC, id DESC",
        branches.join(") UNION ALL (")
    );
    (sql, p)
}

/// Whether more than `walk` postings of `lexeme` follow the cursor (a capped walk stopped
/// short of the end).
async fn walk_cut(
    tx: &tokio_postgres::Transaction<'_>,
    lexeme: &String,
    after: Option<After>,
    walk: i64,
) -> Result<bool, tokio_postgres::Error> {
    let (rank, id) = match after {
        Some(After::Ranked {
            exact: false,
            rank,
            id,
        }) => (Some(rank), Some(id)),
        _ => (None, None),
    };
    let row = tx
        .query_typed(
            "SELECT count(*) > $4 FROM (
                 SELECT 1 FROM listing_terms
                  WHERE lexeme = $1 AND ($2::real IS NULL OR (rank, id) < ($2, $3))
                  ORDER BY rank DESC, id DESC LIMIT $4 + 1) t",
            &[
                (lexeme, Type::TEXT),
                (&rank, Type::FLOAT4),
                (&id, Type::UUID),
                (&walk, Type::INT8),
            ],
        )
        .await?;
    Ok(row.first().is_some_and(|r| r.get(0)))
}

/// The page from `listing_terms` ([`build_terms`]), or `None` when a word's walk stopped
/// at its cap with fewer than a page of rows: rows past the cap could then belong on the
/// page. (A walk that found a page has all its word's rows that can: those past the cap rank
/// below them.)
async fn search_terms(
    tx: &tokio_postgres::Transaction<'_>,
    v: &Values<'_>,
    text: &String,
    lexemes: &[String],
    after_rank: &f32,
) -> Result<Option<Vec<tokio_postgres::Row>>, tokio_postgres::Error> {
    let walk = walk_cap(v.limit);
    let (sql, params) = build_terms(v, text, lexemes, after_rank, &walk);
    let mut rows = tx.query_typed(&sql, &params.list).await?;
    for (n, lexeme) in lexemes.iter().enumerate() {
        let branch = n as i32 + 1;
        let found = rows
            .iter()
            .filter(|r| r.get::<_, i32>("branch") == branch)
            .count();
        if (found as i64) < v.limit && walk_cut(tx, lexeme, v.after, walk).await? {
            return Ok(None);
        }
    }
    rows.truncate(v.limit as usize);
    Ok(Some(rows))
}

/// Up to `fetch` results of `req` after its cursor, and the listing version they reflect.
pub async fn search(
    client: &mut Client,
    req: &SearchRequest,
    fetch: i64,
    timeout: Duration,
) -> Result<(i64, Vec<Hit>), tokio_postgres::Error> {
    let values = Values {
        filter: &req.filter,
        agent_type: req.filter.agent_type.map(domain::AgentType::as_str),
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
    let timeout_ms = timeout.as_millis().to_string();
    let setup = tx
        .query_typed(
            "SELECT set_config('jit', 'off', true),
                    set_config('max_parallel_workers_per_gather', '0', true),
                    set_config('client_min_messages', 'warning', true),
                    set_config('statement_timeout', $1, true),
                    (SELECT version FROM listing_version),
                    search_lexeme($2),
                    search_or_lexemes($2)",
            &[(&timeout_ms, Type::TEXT), (&req.filter.text, Type::TEXT)],
        )
        .await?;
    let (version, one, or): (i64, Option<String>, Option<Vec<String>>) = setup
        .first()
        .map_or((0, None, None), |r| (r.get(4), r.get(5), r.get(6)));
    let lexemes = one.map(|l| vec![l]).or(or);
    let mut rows = None;
    // The postings serve one word and words joined by `or`, except by publisher: a
    // publisher's few listings are found faster through its own index.
    if let (Some(text), Some(lexemes), None) = (&req.filter.text, &lexemes, &req.filter.publisher) {
        rows = search_terms(&tx, &values, text, lexemes, &rank).await?;
    }
    let rows = match rows {
        Some(rows) => rows,
        None => {
            let (sql, params) = build(&values, &exact, &rank);
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
