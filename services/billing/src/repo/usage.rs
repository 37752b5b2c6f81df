//! SQL of `usage_batches` and `usage_events`.

use platform::db::GenericClient;
use time::Date;
use uuid::Uuid;

/// Records a batch id; `false` when it was recorded before (a retry).
pub async fn claim_batch(
    c: &impl GenericClient,
    batch_id: Uuid,
    service: &str,
    entries: i32,
) -> Result<bool, tokio_postgres::Error> {
    let n = c
        .execute(
            "INSERT INTO usage_batches (batch_id, service, entries) VALUES ($1, $2, $3)
             ON CONFLICT (batch_id) DO NOTHING",
            &[&batch_id, &service, &entries],
        )
        .await?;
    Ok(n == 1)
}

/// Adds counts (one statement for the whole batch; rows of one key are summed first).
pub async fn add(
    c: &impl GenericClient,
    tenants: &[Uuid],
    days: &[Date],
    metrics: &[&str],
    counts: &[i64],
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO usage_events (tenant_id, day, metric, count)
         SELECT tenant_id, day, metric, sum(count)::bigint
           FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[])
                AS u(tenant_id, day, metric, count)
          GROUP BY tenant_id, day, metric
          ORDER BY tenant_id, day, metric
         ON CONFLICT (tenant_id, day, metric)
         DO UPDATE SET count = usage_events.count + EXCLUDED.count",
        &[&tenants, &days, &metrics, &counts],
    )
    .await?;
    Ok(())
}

/// Sums per metric of `tenant` from `from` to `to` (inclusive).
pub async fn totals(
    c: &impl GenericClient,
    tenant: Uuid,
    from: Date,
    to: Date,
) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT metric, sum(count)::bigint FROM usage_events
              WHERE tenant_id = $1 AND day BETWEEN $2 AND $3
              GROUP BY metric",
            &[&tenant, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
