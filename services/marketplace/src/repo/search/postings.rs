//! Searches that read their page from `listing_terms`: one word (possibly with exclusions)
//! and words joined by `or`.

use tokio_postgres::types::Type;

use super::sql::{Params, Values, exact_branch, push_filters};
use crate::repo::listings::COLUMNS;
use crate::search::filter::After;

/// How many postings a word's walk reads for a page of `fetch` rows before it gives up on
/// them (filters, exclusions and, with `or`, listings with several of the words make it read
/// more than `fetch`).
fn walk_cap(fetch: i64) -> i64 {
    1_000 + 30 * fetch
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
    let mut branches = vec![exact_branch(&mut p, v, &q, after_rank)];
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
pub(super) async fn search_terms(
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
