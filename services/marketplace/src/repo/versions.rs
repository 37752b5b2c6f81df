//! `listing_version`: which changes of the listings an instance has seen (response-cache
//! invalidation).

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::search::filter::{After, SearchFilter};

/// The version a writing transaction stamps on the rows it writes. Locks the version row
/// until the transaction ends, so versions commit in order.
pub async fn bump(c: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("UPDATE listing_version SET version = version + 1 RETURNING version")
        .await?;
    Ok(c.query_one(&stmt, &[]).await?.get(0))
}

/// Like [`bump`], for a change that removes rows outright: caches start over.
pub async fn bump_reset(c: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "UPDATE listing_version SET version = version + 1, reset_version = version + 1
             RETURNING version",
        )
        .await?;
    Ok(c.query_one(&stmt, &[]).await?.get(0))
}

/// `(version, reset_version)`.
pub async fn current(c: &impl GenericClient) -> Result<(i64, i64), tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("SELECT version, reset_version FROM listing_version")
        .await?;
    let r = c.query_one(&stmt, &[]).await?;
    Ok((r.get(0), r.get(1)))
}

/// A listing written since some version.
#[derive(Debug, Clone, Copy)]
pub struct Change {
    /// Its id.
    pub id: Uuid,
    /// Whether it is shown now.
    pub visible: bool,
    /// The version that last wrote it.
    pub version: i64,
}

/// Listings written by versions in `(after, upto]`, at most `limit`.
pub async fn changed(
    c: &impl GenericClient,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<Change>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "SELECT id, visible, changed_version FROM listings
              WHERE changed_version > $1 AND changed_version <= $2 LIMIT $3",
        )
        .await?;
    let rows = c.query(&stmt, &[&after, &upto, &limit]).await?;
    Ok(rows
        .iter()
        .map(|r| Change {
            id: r.get(0),
            visible: r.get(1),
            version: r.get(2),
        })
        .collect())
}

/// The part of a search's result order a cached page covers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageRange {
    /// Its rows come strictly after this position (the request's cursor), if any,
    pub after: Option<After>,
    /// down to this one (the last row the query fetched) if the query filled its limit.
    pub last: Option<After>,
}

/// A cached search to check against changed listings.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    /// Its filters.
    pub filter: &'a SearchFilter,
    /// The part of the order it shows.
    pub range: &'a PageRange,
    /// The listing version it is exact for.
    pub since: i64,
}

/// A position's columns: `(exact, rank, created_at, id)`.
type Key = (
    Option<bool>,
    Option<f32>,
    Option<OffsetDateTime>,
    Option<Uuid>,
);

fn key(a: Option<After>) -> Key {
    match a {
        Some(After::Ranked { exact, rank, id }) => (Some(exact), Some(rank), None, Some(id)),
        Some(After::Recent { created_at, id }) => (None, None, Some(created_at), Some(id)),
        None => (None, None, None, None),
    }
}

/// Which of `watches` a visible listing written after the watch's version (up to `upto`)
/// belongs to: selected by its filters and sorting within its range (indexes into
/// `watches`). Predicate and order are the search's (`repo::search`). The changed listings
/// are read first, by version, so the plan never reaches for the search indexes.
pub async fn matching(
    c: &impl GenericClient,
    upto: i64,
    watches: &[Watch<'_>],
) -> Result<Vec<usize>, tokio_postgres::Error> {
    let index: Vec<i64> = (0..watches.len() as i64).collect();
    let since: Vec<i64> = watches.iter().map(|w| w.since).collect();
    let column = |f: fn(&SearchFilter) -> Option<&str>| -> Vec<Option<&str>> {
        watches.iter().map(|w| f(w.filter)).collect()
    };
    let text = column(|f| f.text.as_deref());
    let agent_type = column(|f| f.agent_type.map(domain::AgentType::as_str));
    let capability = column(|f| f.capability.as_ref().map(domain::Capability::as_str));
    let tag = column(|f| f.tag.as_ref().map(domain::Tag::as_str));
    let publisher = column(|f| f.publisher.as_deref());
    let after: Vec<Key> = watches.iter().map(|w| key(w.range.after)).collect();
    let last: Vec<Key> = watches.iter().map(|w| key(w.range.last)).collect();
    let a_exact: Vec<Option<bool>> = after.iter().map(|k| k.0).collect();
    let a_rank: Vec<Option<f32>> = after.iter().map(|k| k.1).collect();
    let a_at: Vec<Option<OffsetDateTime>> = after.iter().map(|k| k.2).collect();
    let a_id: Vec<Option<Uuid>> = after.iter().map(|k| k.3).collect();
    let l_exact: Vec<Option<bool>> = last.iter().map(|k| k.0).collect();
    let l_rank: Vec<Option<f32>> = last.iter().map(|k| k.1).collect();
    let l_at: Vec<Option<OffsetDateTime>> = last.iter().map(|k| k.2).collect();
    let l_id: Vec<Option<Uuid>> = last.iter().map(|k| k.3).collect();
    let stmt = c
        .prepare_cached(
            "WITH changed AS MATERIALIZED (
                  SELECT id, name, search, agent_type, capabilities, tags, publisher, created_at,
                         changed_version
                    FROM listings
                   WHERE changed_version > $17 AND changed_version <= $1 AND visible)
             SELECT k.i
               FROM unnest($2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::bool[], $10::real[], $11::timestamptz[], $12::uuid[],
                           $13::bool[], $14::real[], $15::timestamptz[], $16::uuid[])
                    AS k(i, since, q, agent_type, capability, tag, publisher,
                         a_exact, a_rank, a_at, a_id, l_exact, l_rank, l_at, l_id),
                    LATERAL (SELECT websearch_to_tsquery('english', k.q) AS query) t
              WHERE EXISTS (
                    SELECT 1 FROM changed l
                     WHERE l.changed_version > k.since
                       AND (k.q IS NULL OR l.search @@ t.query OR lower(l.name) = lower(k.q))
                       AND (k.agent_type IS NULL OR l.agent_type = k.agent_type)
                       AND (k.capability IS NULL OR l.capabilities @> ARRAY[k.capability])
                       AND (k.tag IS NULL OR l.tags @> ARRAY[k.tag])
                       AND (k.publisher IS NULL OR lower(l.publisher) = lower(k.publisher))
                       AND CASE WHEN k.q IS NULL THEN
                               (k.a_id IS NULL OR (l.created_at, l.id) < (k.a_at, k.a_id))
                           AND (k.l_id IS NULL OR (l.created_at, l.id) > (k.l_at, k.l_id))
                           ELSE
                               (k.a_id IS NULL OR (lower(l.name) = lower(k.q),
                                   ts_rank_cd(l.search, t.query), l.id) < (k.a_exact, k.a_rank, k.a_id))
                           AND (k.l_id IS NULL OR (lower(l.name) = lower(k.q),
                                   ts_rank_cd(l.search, t.query), l.id) > (k.l_exact, k.l_rank, k.l_id))
                           END)",
        )
        .await?;
    let rows = c
        .query(
            &stmt,
            &[
                &upto,
                &index,
                &since,
                &text,
                &agent_type,
                &capability,
                &tag,
                &publisher,
                &a_exact,
                &a_rank,
                &a_at,
                &a_id,
                &l_exact,
                &l_rank,
                &l_at,
                &l_id,
                &since.iter().copied().min().unwrap_or(upto),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| usize::try_from(r.get::<_, i64>(0)).ok())
        .collect())
}
