//! The search query.
//!
//! The SQL is assembled from the filters present, so each combination gets its own plan
//! with the indexes that fit it (full text: GIN on `search`; no text: the partial
//! `(created_at, id)` index, or its per-type and per-publisher variants). A text whose rank
//! is one lexeme's (`search_lexeme`: one word, possibly with one-word exclusions, e.g.
//! `q=invoices` or `q=invoice -pdf`) reads its page from `listing_terms` instead, which
//! holds each listing's rank for each of its lexemes in result order: a common word costs a
//! page of index entries rather than ranking every match. Exclusions and filters drop
//! postings, so that walk is capped ([`walk_cap`]); a page it cannot fill within the cap,
//! while more postings remain, is searched the general way. Both ways rank with the same
//! `ts_rank_cd`, so they return the same order and their cursors are interchangeable.
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

/// A one-word search from `listing_terms`: exact name matches first (ranked on the spot:
/// there are few), then the lexeme's postings in order, at most `walk` of them.
fn build_terms<'a>(
    v: &'a Values<'a>,
    text: &'a String,
    lexeme: &'a String,
    after_rank: &'a f32,
    walk: &'a i64,
) -> (String, Params<'a>) {
    let mut p = Params::default();
    let q = p.add(text, Type::TEXT);
    let lex = p.add(lexeme, Type::TEXT);
    let after = match &v.after {
        Some(After::Ranked { exact, id, .. }) => Some((
            *exact,
            p.add(after_rank, Type::FLOAT4),
            p.add(id, Type::UUID),
        )),
        _ => None,
    };
    let mut exact = format!(
        "SELECT {COLUMNS}, true AS exact, ts_rank_cd(l.search, websearch_to_tsquery('english', {q})) AS rank
           FROM listings l WHERE l.visible AND lower(l.name) = lower({q})"
    );
    push_filters(&mut exact, &mut p, v);
    let mut postings = format!("SELECT id, rank FROM listing_terms WHERE lexeme = {lex}");
    match &after {
        Some((true, r, i)) => exact.push_str(&format!(
            " AND (ts_rank_cd(l.search, websearch_to_tsquery('english', {q})), l.id) < ({r}, {i})"
        )),
        Some((false, r, i)) => {
            exact.push_str(" AND false");
            postings.push_str(&format!(" AND (rank, id) < ({r}, {i})"));
        }
        None => {}
    }
    let walk = p.add(walk, Type::INT8);
    postings.push_str(&format!(" ORDER BY rank DESC, id DESC LIMIT {walk}"));
    let mut ranked = format!(
        "SELECT {COLUMNS}, false AS exact, t.rank
           FROM ({postings}) t JOIN listings l ON l.id = t.id
          WHERE l.visible AND lower(l.name) <> lower({q})
            AND l.search @@ websearch_to_tsquery('english', {q})"
    );
    push_filters(&mut ranked, &mut p, v);
    let limit = p.add(&v.limit, Type::INT8);
    let sql = format!(
        "SELECT * FROM (
             ({exact} ORDER BY rank DESC, l.id DESC LIMIT {limit})
             UNION ALL
             ({ranked} ORDER BY t.rank DESC, t.id DESC LIMIT {limit})) r
          ORDER BY exact DESC, rank DESC, id DESC LIMIT {limit}"
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
                    search_lexeme($2)",
            &[(&timeout_ms, Type::TEXT), (&req.filter.text, Type::TEXT)],
        )
        .await?;
    let (version, lexeme): (i64, Option<String>) =
        setup.first().map_or((0, None), |r| (r.get(4), r.get(5)));
    let mut rows = None;
    // The postings serve one-word searches, except by publisher: a publisher's few listings
    // are found faster through its own index.
    if let (Some(text), Some(lexeme), None) = (&req.filter.text, &lexeme, &req.filter.publisher) {
        let walk = walk_cap(fetch);
        let (sql, params) = build_terms(&values, text, lexeme, &rank, &walk);
        let found = tx.query_typed(&sql, &params.list).await?;
        if found.len() as i64 >= fetch || !walk_cut(&tx, lexeme, req.after, walk).await? {
            rows = Some(found);
        }
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
