//! SQL of the audit log: appending events in a caller's transaction (chained by
//! [`crate::audit::event::chain`] under the lock of their tenants' heads), reading events and
//! chain heads. Checkpoints and verification results are in [`super::checkpoints`], the
//! group commit's statements in [`super::audit_batch`].

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;
use crate::audit::event::{ChainedEvent, Heads, NewEvent, Outcome, chain, tenants_of};

pub(super) const EVENT_COLUMNS: &str = "id, tenant_id, chain_seq, actor, action, outcome, target, details, \
                             occurred_at, prev_hash, hash";

pub(super) fn event(r: &tokio_postgres::Row) -> Result<ChainedEvent, tokio_postgres::Error> {
    Ok(ChainedEvent {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        chain_seq: r.try_get(2)?,
        actor: r.try_get(3)?,
        action: r.try_get(4)?,
        outcome: stored::get(r, 5)?,
        target: r.try_get(6)?,
        details: r.try_get(7)?,
        occurred_at: r.try_get(8)?,
        prev_hash: r.try_get(9)?,
        hash: r.try_get(10)?,
    })
}

/// Filters of the event listing.
#[derive(Debug, Default)]
pub struct EventFilter {
    /// Exact action.
    pub action: Option<String>,
    /// Events about this agent (its own events, its credentials' and tokens').
    pub agent_id: Option<Uuid>,
    /// Success or failure.
    pub outcome: Option<Outcome>,
    /// At or after.
    pub from: Option<OffsetDateTime>,
    /// Before.
    pub to: Option<OffsetDateTime>,
    /// Keyset: only events before this chain position (newest first).
    pub before_seq: Option<i64>,
}

/// A tenant's events, newest first.
pub async fn list(
    c: &impl GenericClient,
    tenant: Uuid,
    f: &EventFilter,
    limit: i64,
) -> Result<Vec<ChainedEvent>, tokio_postgres::Error> {
    let agent = f.agent_id.map(|a| a.to_string());
    let agent_target = f.agent_id.map(|a| format!("agent:{a}"));
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events
              WHERE tenant_id = $1
                AND ($2::bigint IS NULL OR chain_seq < $2)
                AND ($3::text IS NULL OR action = $3)
                AND ($4::text IS NULL OR outcome = $4)
                AND ($5::timestamptz IS NULL OR occurred_at >= $5)
                AND ($6::timestamptz IS NULL OR occurred_at < $6)
                AND ($7::text IS NULL OR target = $8 OR details->>'agent_id' = $7)
              ORDER BY chain_seq DESC
              LIMIT $9"
        ))
        .await?;
    let rows = c
        .query(
            &stmt,
            &[
                &tenant,
                &f.before_seq,
                &f.action,
                &f.outcome.map(Outcome::as_str),
                &f.from,
                &f.to,
                &agent,
                &agent_target,
                &limit,
            ],
        )
        .await?;
    rows.iter().map(event).collect()
}

/// One event of a tenant.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<ChainedEvent>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE tenant_id = $1 AND id = $2"
        ))
        .await?;
    c.query_opt(&stmt, &[&tenant, &id])
        .await?
        .as_ref()
        .map(event)
        .transpose()
}

/// Up to `limit` events of a tenant's chain at positions `from_seq..=to_seq`, in order.
pub async fn chain_from(
    c: &impl GenericClient,
    tenant: Uuid,
    from_seq: i64,
    to_seq: i64,
    limit: i64,
) -> Result<Vec<ChainedEvent>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events
              WHERE tenant_id = $1 AND chain_seq >= $2 AND chain_seq <= $3
              ORDER BY chain_seq LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(&stmt, &[&tenant, &from_seq, &to_seq, &limit])
        .await?;
    rows.iter().map(event).collect()
}

/// The recorded head of a tenant's chain: `(chain_seq, hash)`.
pub async fn head(
    c: &impl GenericClient,
    tenant: Uuid,
) -> Result<Option<(i64, Vec<u8>)>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached("SELECT chain_seq, hash FROM audit_chain_heads WHERE tenant_id = $1")
        .await?;
    Ok(c.query_opt(&stmt, &[&tenant])
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Every tenant with a chain (the system's own included).
pub async fn chains(c: &impl GenericClient) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT tenant_id FROM audit_chain_heads ORDER BY tenant_id",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Locks and reads the heads of `tenants`.
pub const LOCK_HEADS: &str = "SELECT tenant_id, chain_seq, hash FROM audit_chain_heads
                               WHERE tenant_id = ANY($1) ORDER BY tenant_id FOR UPDATE";

/// Inserts chained events from column arrays.
pub const INSERT_EVENTS: &str = "INSERT INTO audit_events (id, tenant_id, chain_seq, actor, action,
        outcome, target, details, occurred_at, prev_hash, hash)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::text[],
        $6::text[], $7::text[], $8::jsonb[], $9::timestamptz[], $10::bytea[], $11::bytea[])";

/// Moves heads from column arrays.
pub const UPDATE_HEADS: &str = "UPDATE audit_chain_heads h SET chain_seq = v.seq, hash = v.hash
       FROM unnest($1::uuid[], $2::bigint[], $3::bytea[]) AS v(tenant_id, seq, hash)
      WHERE h.tenant_id = v.tenant_id";

/// Rows to heads.
pub fn heads_from(rows: &[tokio_postgres::Row]) -> Heads {
    rows.iter()
        .map(|r| {
            (
                r.get::<_, Uuid>(0),
                (r.get::<_, i64>(1), r.get::<_, Vec<u8>>(2)),
            )
        })
        .collect()
}

/// Column arrays of chained events, as the insert statements take them.
#[derive(Debug)]
pub struct EventColumns<'a> {
    ids: Vec<Uuid>,
    tenants: Vec<Uuid>,
    seqs: Vec<i64>,
    actors: Vec<&'a str>,
    actions: Vec<&'a str>,
    outcomes: Vec<&'a str>,
    targets: Vec<Option<&'a str>>,
    details: Vec<&'a serde_json::Value>,
    times: Vec<OffsetDateTime>,
    prevs: Vec<&'a [u8]>,
    hashes: Vec<&'a [u8]>,
}

impl<'a> EventColumns<'a> {
    /// Splits events into columns.
    pub fn new(events: &'a [ChainedEvent]) -> Self {
        Self {
            ids: events.iter().map(|e| e.id).collect(),
            tenants: events.iter().map(|e| e.tenant_id).collect(),
            seqs: events.iter().map(|e| e.chain_seq).collect(),
            actors: events.iter().map(|e| e.actor.as_str()).collect(),
            actions: events.iter().map(|e| e.action.as_str()).collect(),
            outcomes: events.iter().map(|e| e.outcome.as_str()).collect(),
            targets: events.iter().map(|e| e.target.as_deref()).collect(),
            details: events.iter().map(|e| &e.details).collect(),
            times: events.iter().map(|e| e.occurred_at).collect(),
            prevs: events.iter().map(|e| e.prev_hash.as_slice()).collect(),
            hashes: events.iter().map(|e| e.hash.as_slice()).collect(),
        }
    }

    /// Parameters `$1..$11`.
    pub fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 11] {
        [
            &self.ids,
            &self.tenants,
            &self.seqs,
            &self.actors,
            &self.actions,
            &self.outcomes,
            &self.targets,
            &self.details,
            &self.times,
            &self.prevs,
            &self.hashes,
        ]
    }
}

/// Column arrays of heads.
#[derive(Debug)]
pub struct HeadColumns<'a> {
    /// Tenants.
    pub tenants: Vec<Uuid>,
    /// Last seq.
    pub seqs: Vec<i64>,
    /// Last hash.
    pub hashes: Vec<&'a [u8]>,
}

impl<'a> HeadColumns<'a> {
    /// Splits heads into columns.
    pub fn new(heads: &'a Heads) -> Self {
        Self {
            tenants: heads.keys().copied().collect(),
            seqs: heads.values().map(|h| h.0).collect(),
            hashes: heads.values().map(|h| h.1.as_slice()).collect(),
        }
    }
}

/// Chains `events` onto the heads of their tenants and inserts them, in the caller's
/// transaction (management changes). Returns the stored events in input order.
pub async fn append(
    tx: &impl GenericClient,
    events: Vec<NewEvent>,
) -> Result<Vec<ChainedEvent>, tokio_postgres::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let tenants = tenants_of(&events);
    let lock = tx.prepare_cached(LOCK_HEADS).await?;
    let mut heads = heads_from(&tx.query(&lock, &[&tenants]).await?);
    let out = chain(&events, &mut heads);
    let insert = tx.prepare_cached(INSERT_EVENTS).await?;
    tx.execute(&insert, &EventColumns::new(&out).params())
        .await?;
    let update = tx.prepare_cached(UPDATE_HEADS).await?;
    let h = HeadColumns::new(&heads);
    tx.execute(&update, &[&h.tenants, &h.seqs, &h.hashes])
        .await?;
    Ok(out)
}
