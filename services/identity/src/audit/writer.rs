//! Group commit of audit events.
//!
//! Requests hand their event to one writer task and wait. The writer takes everything queued
//! (up to `AUDIT_BATCH_MAX`), appends it in one transaction and wakes each request when its
//! event is durably committed; while one batch commits the next one fills up, so the cost of
//! a commit (an fsync) is shared by every request that arrived meanwhile. A request is never
//! told its event is stored before the commit returns, and a failed batch fails every request
//! in it (the token endpoint then answers 503 and returns no token).
//!
//! Round trips are what a commit cycle costs on a busy machine, so the writer remembers the
//! head of every tenant chain it last wrote and appends with one call of `audit_append`,
//! which writes only if no head moved. When one did (another instance, or a management
//! change, appended meanwhile) it locks the heads and appends with pipelined statements: two
//! round trips.
//!
//! At shutdown a flush hook waits until everything queued before it is written.

use std::collections::HashMap;
use std::time::Instant;

use metrics::{Counter, Histogram};
use platform::ApiError;
use platform::db::Db;
use platform::shutdown::Shutdown;
use platform::telemetry::Metrics;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::feed::FeedSignal;
use super::{
    EventColumns, HeadColumns, Heads, INSERT_EVENTS, LOCK_HEADS, NewEvent, UPDATE_HEADS, chain,
    heads_from, tenants_of,
};

enum Job {
    Event(NewEvent, oneshot::Sender<bool>),
    Flush(oneshot::Sender<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
}

struct Instruments {
    batch_size: Histogram,
    commit_seconds: Histogram,
    failed: Counter,
}

impl AuditWriter {
    /// Starts the writer; it runs until every handle is dropped and registers a flush hook.
    pub fn start(
        db: Db,
        batch_max: usize,
        metrics: &Metrics,
        shutdown: &Shutdown,
        signal: FeedSignal,
    ) -> Self {
        let (tx, rx) = mpsc::channel(65_536);
        let instruments = Instruments {
            batch_size: metrics.histogram("agentidp_audit_batch_size", &[]),
            commit_seconds: metrics.histogram("agentidp_audit_commit_duration_seconds", &[]),
            failed: metrics.counter("agentidp_audit_batches_failed_total", &[]),
        };
        tokio::spawn(run(db, batch_max.max(1), rx, instruments, signal));
        let writer = Self { tx };
        let flusher = writer.clone();
        shutdown.on_shutdown("audit", move || async move { flusher.flush().await });
        writer
    }

    /// Appends `event` and returns once it is committed; 503 if it could not be stored.
    pub async fn record(&self, event: NewEvent) -> Result<(), ApiError> {
        let (done, wait) = oneshot::channel();
        let unavailable = || {
            ApiError::unavailable(
                "audit_unavailable",
                "the audit log cannot record this request right now; try again shortly",
                1,
            )
        };
        self.tx
            .send(Job::Event(event, done))
            .await
            .map_err(|_| unavailable())?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    /// Waits until everything queued before this call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Job::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn run(
    db: Db,
    batch_max: usize,
    mut rx: mpsc::Receiver<Job>,
    m: Instruments,
    signal: FeedSignal,
) {
    let mut known: HashMap<Uuid, (i64, Vec<u8>)> = HashMap::new();
    let mut jobs = Vec::with_capacity(batch_max);
    while rx.recv_many(&mut jobs, batch_max).await > 0 {
        let mut events = Vec::with_capacity(jobs.len());
        let mut waiters = Vec::with_capacity(jobs.len());
        let mut flushes = Vec::new();
        for job in jobs.drain(..) {
            match job {
                Job::Event(e, done) => {
                    events.push(e);
                    waiters.push(done);
                }
                Job::Flush(done) => flushes.push(done),
            }
        }
        if !events.is_empty() {
            let start = Instant::now();
            m.batch_size.record(events.len() as f64);
            let ok = match write(&db, &mut known, &events).await {
                Ok(()) => true,
                Err(e) => {
                    m.failed.increment(1);
                    tracing::error!(error = %e, batch = waiters.len(), "audit batch failed");
                    false
                }
            };
            m.commit_seconds.record(start.elapsed().as_secs_f64());
            if ok {
                signal.notify();
            }
            for w in waiters {
                let _ = w.send(ok);
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

const CALL_APPEND: &str = "SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                                                 $12, $13, $14, $15)";

async fn write(
    db: &Db,
    known: &mut HashMap<Uuid, (i64, Vec<u8>)>,
    events: &[NewEvent],
) -> Result<(), ApiError> {
    let tenants = tenants_of(events);
    let client = db.get().await?;
    if tenants.iter().all(|t| known.contains_key(t)) {
        let expected: Heads = tenants
            .iter()
            .filter_map(|t| known.get(t).map(|h| (*t, h.clone())))
            .collect();
        let mut heads = expected.clone();
        let chained = chain(events, &mut heads);
        let cols = EventColumns::new(&chained);
        let new = HeadColumns::new(&heads);
        let old = HeadColumns::new(&expected);
        let stmt = client.prepare_cached(CALL_APPEND).await?;
        let p = cols.params();
        let result = client
            .execute(
                &stmt,
                &[
                    p[0],
                    p[1],
                    p[2],
                    p[3],
                    p[4],
                    p[5],
                    p[6],
                    p[7],
                    p[8],
                    p[9],
                    p[10],
                    &new.tenants,
                    &old.seqs,
                    &new.seqs,
                    &new.hashes,
                ],
            )
            .await;
        match result {
            Ok(_) => {
                known.extend(heads);
                return Ok(());
            }
            Err(e) if e.code() == Some(&SqlState::from_code("AU001")) => {
                for t in &tenants {
                    known.remove(t);
                }
            }
            Err(e) => {
                for t in &tenants {
                    known.remove(t);
                }
                return Err(e.into());
            }
        }
    }
    // Lock the heads, then write: BEGIN + lock, then insert + update + COMMIT, pipelined.
    let lock = client.prepare_cached(LOCK_HEADS).await?;
    let insert = client.prepare_cached(INSERT_EVENTS).await?;
    let update = client.prepare_cached(UPDATE_HEADS).await?;
    let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&tenants];
    let (begun, locked) = tokio::join!(
        client.batch_execute("BEGIN"),
        client.query(&lock, &lock_params)
    );
    let outcome = async {
        begun?;
        let mut heads = heads_from(&locked?);
        let chained = chain(events, &mut heads);
        let cols = EventColumns::new(&chained);
        let h = HeadColumns::new(&heads);
        let insert_params = cols.params();
        let update_params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&h.tenants, &h.seqs, &h.hashes];
        let (inserted, updated, committed) = tokio::join!(
            client.execute(&insert, &insert_params),
            client.execute(&update, &update_params),
            client.batch_execute("COMMIT"),
        );
        inserted?;
        updated?;
        committed?;
        Ok::<_, tokio_postgres::Error>(heads)
    }
    .await;
    match outcome {
        Ok(heads) => {
            known.extend(heads);
            Ok(())
        }
        Err(e) => {
            // The connection may be inside an aborted transaction: never return it to the pool.
            drop(deadpool_postgres::Object::take(client));
            Err(e.into())
        }
    }
}
