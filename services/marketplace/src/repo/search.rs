//! The search query.
//!
//! The SQL is assembled from the filters present, so each combination gets its own plan
//! with the indexes that fit it (full text: GIN on `search`; no text: the partial
//! `(created_at, id)` index, or its per-type and per-publisher variants). It runs as an
//! unnamed statement (`query_typed`: one round trip, always planned with the actual values,
//! which matters for text-search selectivity), in a read-only, repeatable-read transaction
//! that turns JIT compilation off (it would cost more than it saves on these queries), bounds
//! the statement's time, and reads the listing version of the same snapshot (what the
//! response cache checks the result against). [`crate::repo::versions::matching`] repeats the predicate for cache
//! invalidation: keep both in step.

use std::time::Duration;

use platform::db::Client;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{IsolationLevel, SimpleQueryMessage};

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
    let (sql, params) = build(&values, &exact, &rank);
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let setup = tx
        .simple_query(&format!(
            "SET LOCAL jit = off; SET LOCAL client_min_messages = warning;
             SET LOCAL statement_timeout = {}; SELECT version FROM listing_version",
            timeout.as_millis()
        ))
        .await?;
    let version = setup
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0)?.parse::<i64>().ok(),
            _ => None,
        })
        .unwrap_or(0);
    let rows = tx.query_typed(&sql, &params.list).await?;
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
