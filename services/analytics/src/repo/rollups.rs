//! SQL of `rollups`.

use std::collections::BTreeMap;

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rollup::{Granularity, RollupKey};

/// Adds a page's increments in one statement (one row per key).
pub async fn add(
    c: &impl GenericClient,
    increments: &BTreeMap<RollupKey, i64>,
) -> anyhow::Result<()> {
    if increments.is_empty() {
        return Ok(());
    }
    let n = increments.len();
    let (mut tenants, mut grans, mut buckets, mut metrics, mut agents, mut counts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (k, v) in increments {
        tenants.push(k.tenant_id);
        grans.push(k.granularity.as_str());
        buckets.push(k.bucket);
        metrics.push(k.metric);
        agents.push(k.agent_id);
        counts.push(*v);
    }
    let stmt = c
        .prepare_cached(
            "INSERT INTO rollups (tenant_id, granularity, bucket, metric, agent_id, count)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[],
                                  $5::uuid[], $6::int8[])
             ON CONFLICT (tenant_id, granularity, bucket, metric, agent_id)
             DO UPDATE SET count = rollups.count + excluded.count",
        )
        .await?;
    c.execute(
        &stmt,
        &[&tenants, &grans, &buckets, &metrics, &agents, &counts],
    )
    .await?;
    Ok(())
}

/// One summed counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// Bucket start (UTC).
    pub bucket: OffsetDateTime,
    /// Metric.
    pub metric: String,
    /// Sum over agents.
    pub count: i64,
}

/// A tenant's counters of `metrics` per bucket in `[from, to)`, summed over agents.
pub async fn series(
    c: &impl GenericClient,
    tenant: Uuid,
    granularity: Granularity,
    metrics: &[&str],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> anyhow::Result<Vec<Count>> {
    let stmt = c
        .prepare_cached(
            "SELECT bucket, metric, SUM(count)::int8 FROM rollups
              WHERE tenant_id = $1 AND granularity = $2 AND metric = ANY($3)
                AND bucket >= $4 AND bucket < $5
              GROUP BY bucket, metric ORDER BY bucket, metric",
        )
        .await?;
    let metrics: Vec<&str> = metrics.to_vec();
    let rows = c
        .query(
            &stmt,
            &[&tenant, &granularity.as_str(), &metrics, &from, &to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Count {
            bucket: r.get(0),
            metric: r.get(1),
            count: r.get(2),
        })
        .collect())
}

/// A tenant's daily counters of `[from, to)` per agent and metric.
pub async fn per_agent(
    c: &impl GenericClient,
    tenant: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> anyhow::Result<Vec<(Uuid, String, i64)>> {
    let stmt = c
        .prepare_cached(
            "SELECT agent_id, metric, SUM(count)::int8 FROM rollups
              WHERE tenant_id = $1 AND granularity = 'day' AND bucket >= $2 AND bucket < $3
                AND agent_id <> '00000000-0000-0000-0000-000000000000'
              GROUP BY agent_id, metric",
        )
        .await?;
    let rows = c.query(&stmt, &[&tenant, &from, &to]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Deletes every bucket that started before `cutoff`; returns how many rows went.
pub async fn delete_before(c: &impl GenericClient, cutoff: OffsetDateTime) -> anyhow::Result<u64> {
    let stmt = c
        .prepare_cached("DELETE FROM rollups WHERE bucket < $1")
        .await?;
    Ok(c.execute(&stmt, &[&cutoff]).await?)
}
