//! What the search queries share: typed positional parameters, the values they borrow, the
//! filters' conditions and the exact-name branch.

use tokio_postgres::types::{ToSql, Type};

use crate::repo::listings::COLUMNS;
use crate::search::filter::{After, SearchFilter};

/// Positional parameters with their types.
#[derive(Default)]
pub(super) struct Params<'a> {
    pub(super) list: Vec<(&'a (dyn ToSql + Sync), Type)>,
}

impl<'a> Params<'a> {
    pub(super) fn add(&mut self, v: &'a (dyn ToSql + Sync), t: Type) -> String {
        self.list.push((v, t));
        format!("${}", self.list.len())
    }
}

/// Values a query borrows its parameters from.
pub(super) struct Values<'a> {
    pub(super) filter: &'a SearchFilter,
    pub(super) agent_type: Option<&'static str>,
    pub(super) capability: Option<&'a str>,
    pub(super) tag: Option<&'a str>,
    pub(super) after: Option<After>,
    pub(super) limit: i64,
}

/// The filters' conditions on `l`, appended to `sql`.
pub(super) fn push_filters<'a>(sql: &mut String, p: &mut Params<'a>, v: &'a Values<'a>) {
    let f = v.filter;
    if let Some(t) = &v.agent_type {
        sql.push_str(&format!(" AND l.agent_type = {}", p.add(t, Type::TEXT)));
    }
    if let Some(c) = &v.capability {
        sql.push_str(&format!(
            " AND l.capabilities @> ARRAY[{}]",
            p.add(c, Type::TEXT)
        ));
    }
    if let Some(t) = &v.tag {
        sql.push_str(&format!(" AND l.tags @> ARRAY[{}]", p.add(t, Type::TEXT)));
    }
    if let Some(pb) = &f.publisher {
        sql.push_str(&format!(
            " AND lower(l.publisher) = lower({})",
            p.add(pb, Type::TEXT)
        ));
    }
}

/// The branch of a postings search with the exact name matches, after the cursor, best
/// first, at most a page (`branch` 0): ranked on the spot, there are few. `q` is the text's
/// placeholder.
pub(super) fn exact_branch<'a>(
    p: &mut Params<'a>,
    v: &'a Values<'a>,
    q: &str,
    after_rank: &'a f32,
) -> String {
    let rank = format!("ts_rank_cd(l.search, websearch_to_tsquery('english', {q}))");
    let mut sql = format!(
        "SELECT {COLUMNS}, true AS exact, {rank} AS rank, 0 AS branch
           FROM listings l WHERE l.visible AND lower(l.name) = lower({q})"
    );
    push_filters(&mut sql, p, v);
    match &v.after {
        Some(After::Ranked {
            exact: true, id, ..
        }) => sql.push_str(&format!(
            " AND ({rank}, l.id) < ({}, {})",
            p.add(after_rank, Type::FLOAT4),
            p.add(id, Type::UUID)
        )),
        // Past the exact matches.
        Some(After::Ranked { exact: false, .. }) => sql.push_str(" AND false"),
        _ => {}
    }
    sql.push_str(&format!(
        " ORDER BY rank DESC, l.id DESC LIMIT {}",
        p.add(&v.limit, Type::INT8)
    ));
    sql
}
