//! Browsing without a text: the visible listings that pass the filters, newest first, from
//! PostgreSQL (searches with a text go to the instance's index, `crate::index`).
//!
//! The SQL is assembled from the filters present, so each combination gets its own plan with
//! the index that fits it (the partial `(created_at, id)` index, its per-type and
//! per-publisher variants, or the GIN indexes of tags and capabilities). It runs as an
//! unnamed statement (`query_typed`: one round trip) in a read-only, repeatable-read
//! transaction that bounds the statement's time and reads the listing version of the same
//! snapshot (what the response cache checks the result against).

use std::time::Duration;

use platform::db::Client;
use tokio_postgres::IsolationLevel;
use tokio_postgres::types::{ToSql, Type};

use super::listings::{COLUMNS, row};
use crate::listing::Listing;
use crate::search::filter::{After, SearchFilter};

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

/// Up to `fetch` listings that `filter` selects (its text aside), newest first, strictly
/// after `after`; and the listing version they reflect.
pub async fn recent(
    client: &mut Client,
    filter: &SearchFilter,
    after: Option<After>,
    fetch: i64,
    timeout: Duration,
) -> Result<(i64, Vec<Listing>), tokio_postgres::Error> {
    let agent_type = filter.agent_type.map(domain::AgentType::as_str);
    let capability = filter.capability.as_ref().map(domain::Capability::as_str);
    let tag = filter.tag.as_ref().map(domain::Tag::as_str);
    let mut p = Params::default();
    let mut sql = format!("SELECT {COLUMNS} FROM listings l WHERE l.visible");
    if let Some(t) = &agent_type {
        sql.push_str(&format!(" AND l.agent_type = {}", p.add(t, Type::TEXT)));
    }
    if let Some(c) = &capability {
        let c = p.add(c, Type::TEXT);
        sql.push_str(&format!(" AND l.capabilities @> ARRAY[{c}]"));
    }
    if let Some(t) = &tag {
        sql.push_str(&format!(" AND l.tags @> ARRAY[{}]", p.add(t, Type::TEXT)));
    }
    if let Some(pb) = &filter.publisher {
        let pb = p.add(pb, Type::TEXT);
        sql.push_str(&format!(" AND lower(l.publisher) = lower({pb})"));
    }
    if let Some(After::Recent { created_at, id }) = &after {
        let (c, i) = (p.add(created_at, Type::TIMESTAMPTZ), p.add(id, Type::UUID));
        sql.push_str(&format!(" AND (l.created_at, l.id) < ({c}, {i})"));
    }
    let limit = p.add(&fetch, Type::INT8);
    sql.push_str(&format!(
        " ORDER BY l.created_at DESC, l.id DESC LIMIT {limit}"
    ));
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let timeout_ms = timeout.as_millis().to_string();
    let version: i64 = tx
        .query_typed(
            "SELECT set_config('statement_timeout', $1, true),
                    (SELECT version FROM listing_version)",
            &[(&timeout_ms, Type::TEXT)],
        )
        .await?
        .first()
        .map_or(0, |r| r.get(1));
    let rows = tx.query_typed(&sql, &p.list).await?;
    tx.commit().await?;
    Ok((version, rows.iter().map(row).collect()))
}
