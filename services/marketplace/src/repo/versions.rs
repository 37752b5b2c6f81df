//! `listing_version`: which changes of the listings an instance has seen (response-cache
//! invalidation).

use platform::db::GenericClient;
use uuid::Uuid;

use crate::search::SearchFilter;

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

/// Listings written by versions in `(after, upto]`, at most `limit`: `(id, visible)`.
pub async fn changed(
    c: &impl GenericClient,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<(Uuid, bool)>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "SELECT id, visible FROM listings
              WHERE changed_version > $1 AND changed_version <= $2 LIMIT $3",
        )
        .await?;
    let rows = c.query(&stmt, &[&after, &upto, &limit]).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Which of `filters` select a visible listing written by versions in `(after, upto]`
/// (indexes into `filters`). The predicate is the search's (`repo::search`).
pub async fn matching(
    c: &impl GenericClient,
    after: i64,
    upto: i64,
    filters: &[&SearchFilter],
) -> Result<Vec<usize>, tokio_postgres::Error> {
    let index: Vec<i64> = (0..filters.len() as i64).collect();
    let column = |f: fn(&SearchFilter) -> Option<&str>| -> Vec<Option<&str>> {
        filters.iter().map(|s| f(s)).collect()
    };
    let text = column(|f| f.text.as_deref());
    let agent_type = column(|f| f.agent_type.map(domain::AgentType::as_str));
    let capability = column(|f| f.capability.as_deref());
    let tag = column(|f| f.tag.as_deref());
    let publisher = column(|f| f.publisher.as_deref());
    let stmt = c
        .prepare_cached(
            "SELECT k.i
               FROM unnest($3::int8[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
                    AS k(i, q, agent_type, capability, tag, publisher),
                    LATERAL (SELECT websearch_to_tsquery('english', k.q) AS query) t
              WHERE EXISTS (
                    SELECT 1 FROM listings l
                     WHERE l.changed_version > $1 AND l.changed_version <= $2 AND l.visible
                       AND (k.q IS NULL OR l.search @@ t.query OR lower(l.name) = lower(k.q))
                       AND (k.agent_type IS NULL OR l.agent_type = k.agent_type)
                       AND (k.capability IS NULL OR l.capabilities @> ARRAY[k.capability])
                       AND (k.tag IS NULL OR l.tags @> ARRAY[k.tag])
                       AND (k.publisher IS NULL OR lower(l.publisher) = lower(k.publisher)))",
        )
        .await?;
    let rows = c
        .query(
            &stmt,
            &[
                &after,
                &upto,
                &index,
                &text,
                &agent_type,
                &capability,
                &tag,
                &publisher,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| usize::try_from(r.get::<_, i64>(0)).ok())
        .collect())
}
