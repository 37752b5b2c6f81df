//! `listing_version`: which changes of the listings an instance has seen (response-cache
//! invalidation).

use platform::db::GenericClient;

use crate::search::filter::After;

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

/// The part of a search's result order a cached page covers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageRange {
    /// Its rows come strictly after this position (the request's cursor), if any,
    pub after: Option<After>,
    /// down to this one (the last row the query fetched) if the query filled its limit.
    pub last: Option<After>,
}
