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
//! remain, is searched the general way. Two words that match many listings ([`search_pair`])
//! rank those with both words in the name, and then only the others that a bound on cover
//! density lets reach that page. All ways rank with the same `ts_rank_cd`, so they return
//! the same order and their cursors are interchangeable.
//!
//! Queries run as unnamed statements (`query_typed`: one round trip, always planned with
//! the actual values, which matters for text-search selectivity), in a read-only,
//! repeatable-read transaction that turns JIT compilation and parallel workers off (they
//! would cost more than they save on these queries), bounds the statement's time, and reads
//! the listing version of the same snapshot (what the response cache checks the result
//! against). [`crate::repo::versions::matching`] repeats the predicate for cache
//! invalidation: keep both in step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::db::{Client, GenericClient};
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

/// How many postings a word's walk reads for a page of `fetch` rows before it gives up on
/// them (filters, exclusions and, with `or`, listings with several of the words make it read
/// more than `fetch`).
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

/// The branch of a postings search with the exact name matches, after the cursor, best
/// first, at most a page (`branch` 0): ranked on the spot, there are few. `q` is the text's
/// placeholder.
fn exact_branch<'a>(p: &mut Params<'a>, v: &'a Values<'a>, q: &str, after_rank: &'a f32) -> String {
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
async fn search_pair(
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

/// How searches run.
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings<'a> {
    /// The statement timeout.
    pub timeout: Duration,
    /// Estimated matches from which a two-word search takes [`search_pair`] (`Config`).
    pub pair_matches_min: f64,
    /// What the estimate is made from; `None` before the postings have statistics.
    pub stats: Option<&'a LexemeStats>,
}

/// How long an instance uses the statistics it read ([`LexemeStats::cached`]).
pub const STATS_TTL: Duration = Duration::from_secs(300);

/// An instance's [`LexemeStats`] and when they were read.
pub type StatsCache = Mutex<Option<(Instant, Option<Arc<LexemeStats>>)>>;

/// The planner's statistics of `listing_terms.lexeme`: the most common lexemes' shares of
/// the postings, the table's size and the listings'. Enough to estimate how many listings
/// two words have in common.
#[derive(Debug, Default)]
pub struct LexemeStats {
    shares: HashMap<String, f64>,
    /// The share of the rarest common lexeme: an upper bound for any other.
    rarest: f64,
    postings: f64,
    listings: f64,
}

impl LexemeStats {
    /// Reads them; `None` before `listing_terms` has been analysed.
    pub async fn load(c: &impl GenericClient) -> Result<Option<Self>, tokio_postgres::Error> {
        let rows = c
            .query(
                "SELECT m.v, m.f::float8, t.reltuples::float8, l.reltuples::float8
                   FROM pg_class t
                   JOIN pg_class l ON l.oid = 'listings'::regclass
                   JOIN pg_stats s ON s.schemaname = t.relnamespace::regnamespace::text
                                  AND s.tablename = t.relname AND s.attname = 'lexeme',
                        unnest(s.most_common_vals::text::text[], s.most_common_freqs) m(v, f)
                  WHERE t.oid = 'listing_terms'::regclass AND t.reltuples > 0",
                &[],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let shares: HashMap<String, f64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(Some(Self {
            rarest: shares.values().copied().fold(f64::INFINITY, f64::min),
            shares,
            postings: first.get(2),
            listings: first.get(3),
        }))
    }

    /// The statistics an instance uses, read again when they are [`STATS_TTL`] old (and
    /// whenever the last attempt found none or failed, at most as often).
    pub async fn cached(cache: &StatsCache, c: &impl GenericClient) -> Option<Arc<LexemeStats>> {
        if let Some((at, stats)) = &*cache.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < STATS_TTL
        {
            return stats.clone();
        }
        let stats = match Self::load(c).await {
            Ok(stats) => stats.map(Arc::new),
            Err(e) => {
                tracing::warn!(error = %e, "reading the postings' statistics failed");
                None
            }
        };
        *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), stats.clone()));
        stats
    }

    /// Estimated listings with both lexemes, as if they occurred independently.
    pub fn pair_matches(&self, a: &str, b: &str) -> f64 {
        let share = |l: &str| self.shares.get(l).copied().unwrap_or(self.rarest);
        share(a) * share(b) * self.postings * self.postings / self.listings.max(1.0)
    }
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
            rows = search_terms(&tx, &values, text, lexemes, &rank).await?;
        } else if let Some(pair) = &pair {
            rows = search_pair(&tx, &values, text, pair, &rank).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_estimates_treat_words_as_independent_and_other_words_as_the_rarest() {
        let stats = LexemeStats {
            shares: HashMap::from([("summar".into(), 0.02), ("deploy".into(), 0.005)]),
            rarest: 0.001,
            postings: 20_000_000.0,
            listings: 1_000_000.0,
        };
        // 400,000 listings with one word, 100,000 with the other: 40,000 with both.
        assert!((stats.pair_matches("summar", "deploy") - 40_000.0).abs() < 1e-6);
        // A word outside the common ones counts as the rarest of them (20,000 listings).
        assert!((stats.pair_matches("deploy", "zebra") - 2_000.0).abs() < 1e-6);
        let empty = LexemeStats::default();
        assert_eq!(empty.pair_matches("a", "b"), 0.0);
    }
}
