//! The general search: every match ranked (or, without text, listed newest first) with the
//! filters' own indexes.

use tokio_postgres::types::Type;

use super::sql::{Params, Values, push_filters};
use crate::repo::listings::COLUMNS;
use crate::search::filter::After;

/// The query of a page of `v`: full-text predicate, filters, the cursor's position, the
/// result order and the limit. `after_exact` and `after_rank` hold the cursor's sort key.
pub(super) fn build<'a>(
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
