//! Two-word searches that rank only the listings that can make the page.

use tokio_postgres::types::Type;

use super::sql::{Params, Values, exact_branch, push_filters};
use crate::repo::listings::COLUMNS;
use crate::search::filter::After;

/// The most a cover of a two-word search adds to `ts_rank_cd` when one of the words is not in
/// the name: the harmonic mean of weights 1.0 and 0.4 is 0.571428..., rounded up here so
/// that float rounding cannot make the bound too small.
const NOT_BOTH_NAMED_COVER: f64 = 0.5715;

/// One branch of a two-word search: listings with both words, after the cursor, best first,
/// at most a page; `pairs` joins the words' postings. Tagged `branch`.
fn pair_branch<'a>(
    p: &mut Params<'a>,
    v: &'a Values<'a>,
    text: &'a String,
    pair: &'a [String],
    after_rank: &'a f32,
    pairs: &str,
    branch: i32,
) -> String {
    let q = p.add(text, Type::TEXT);
    let (a, b) = (p.add(&pair[0], Type::TEXT), p.add(&pair[1], Type::TEXT));
    let rank = format!("ts_rank_cd(l.search, websearch_to_tsquery('english', {q}))");
    // The postings are joined first (OFFSET 0 keeps the planner from fetching listings for
    // one word's postings before it has the other's).
    let mut sql = format!(
        "SELECT {COLUMNS}, false AS exact, {rank} AS rank, {branch} AS branch
           FROM (SELECT ta.id FROM listing_terms ta JOIN listing_terms tb ON tb.id = ta.id
                  WHERE ta.lexeme = {a} AND tb.lexeme = {b} AND {pairs} OFFSET 0) t
           JOIN listings l ON l.id = t.id
          WHERE l.visible AND lower(l.name) <> lower({q})
            AND l.search @@ websearch_to_tsquery('english', {q})"
    );
    push_filters(&mut sql, p, v);
    // After an exact name match, every other listing is still to come.
    if let Some(After::Ranked {
        exact: false, id, ..
    }) = &v.after
    {
        sql.push_str(&format!(
            " AND ({rank}, l.id) < ({}, {})",
            p.add(after_rank, Type::FLOAT4),
            p.add(id, Type::UUID)
        ));
    }
    sql.push_str(&format!(
        " ORDER BY rank DESC, l.id DESC LIMIT {}",
        p.add(&v.limit, Type::INT8)
    ));
    sql
}

/// A page of a two-word search (`search_lexeme_pair`), or `None` when it has to be ranked the
/// general way. First the exact name matches and the best page of listings with both words
/// in the name; the last rank of that page bounds the rest (V5 migration): a listing without
/// both words in the name can reach it only if it has at least `c` covers, so only listings
/// where each word occurs at least `ceil(c / 2)` times and both together more than `c` times
/// are ranked as well. `None` when fewer than a page have both words in the name, or when the
/// bound would not narrow the search.
pub(super) async fn search_pair(
    tx: &tokio_postgres::Transaction<'_>,
    v: &Values<'_>,
    text: &String,
    pair: &[String],
    after_rank: &f32,
) -> Result<Option<Vec<tokio_postgres::Row>>, tokio_postgres::Error> {
    let mut p = Params::default();
    let q = p.add(text, Type::TEXT);
    let exact = exact_branch(&mut p, v, &q, after_rank);
    let named = pair_branch(
        &mut p,
        v,
        text,
        pair,
        after_rank,
        "ta.in_name AND tb.in_name",
        1,
    );
    let sql = format!("SELECT * FROM (({exact}) UNION ALL ({named})) r");
    let mut rows = tx.query_typed(&sql, &p.list).await?;
    let named: Vec<f32> = rows
        .iter()
        .filter(|r| r.get::<_, i32>("branch") == 1)
        .map(|r| r.get("rank"))
        .collect();
    if (named.len() as i64) < v.limit {
        return Ok(None);
    }
    let floor = named.iter().copied().fold(f32::INFINITY, f32::min);
    let covers = (f64::from(floor) / NOT_BOTH_NAMED_COVER).ceil() as i32;
    if covers <= 2 {
        return Ok(None);
    }
    let each = (covers + 1) / 2;
    let mut p = Params::default();
    let (e, c) = (p.add(&each, Type::INT4), p.add(&covers, Type::INT4));
    let repeated = format!(
        "ta.occurrences >= {e} AND tb.occurrences >= {e} AND ta.occurrences + tb.occurrences > {c}
         AND NOT (ta.in_name AND tb.in_name)"
    );
    let sql = pair_branch(&mut p, v, text, pair, after_rank, &repeated, 2);
    rows.extend(tx.query_typed(&sql, &p.list).await?);
    rows.sort_by(|x, y| {
        let key = |r: &tokio_postgres::Row| -> (bool, f32, uuid::Uuid) {
            (r.get("exact"), r.get("rank"), r.get("id"))
        };
        let (kx, ky) = (key(x), key(y));
        ky.0.cmp(&kx.0)
            .then(ky.1.total_cmp(&kx.1))
            .then(ky.2.cmp(&kx.2))
    });
    rows.truncate(v.limit as usize);
    Ok(Some(rows))
}
