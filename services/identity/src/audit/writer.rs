//! Group commit of audit events.
//!
//! Requests hand their event to one writer task and wait. The writer takes everything queued
//! (up to `AUDIT_BATCH_MAX`), appends it in one transaction and wakes each request when its
//! event is durably committed; while one batch commits the next one fills up, so the cost of
//! a commit (an fsync) is shared by every request that arrived meanwhile. A request is never
//! told its event is stored before the commit returns, and a failed batch fails every request
//! in it (the token endpoint then answers 503 and returns no token).
//!
//! At shutdown a flush hook waits until everything queued before it is written.

use std::time::Instant;

use metrics::{Counter, Histogram};
use platform::ApiError;
use platform::db::Db;
use platform::shutdown::Shutdown;
use platform::telemetry::Metrics;
use tokio::sync::{mpsc, oneshot};

use super::{NewEvent, append};

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
    pub fn start(db: Db, batch_max: usize, metrics: &Metrics, shutdown: &Shutdown) -> Self {
        let (tx, rx) = mpsc::channel(65_536);
        let instruments = Instruments {
            batch_size: metrics.histogram("agentidp_audit_batch_size", &[]),
            commit_seconds: metrics.histogram("agentidp_audit_commit_duration_seconds", &[]),
            failed: metrics.counter("agentidp_audit_batches_failed_total", &[]),
        };
        tokio::spawn(run(db, batch_max.max(1), rx, instruments));
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

async fn run(db: Db, batch_max: usize, mut rx: mpsc::Receiver<Job>, m: Instruments) {
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
            let ok = match write(&db, events).await {
                Ok(()) => true,
                Err(e) => {
                    m.failed.increment(1);
                    tracing::error!(error = %e, batch = waiters.len(), "audit batch failed");
                    false
                }
            };
            m.commit_seconds.record(start.elapsed().as_secs_f64());
            for w in waiters {
                let _ = w.send(ok);
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

async fn write(db: &Db, events: Vec<NewEvent>) -> Result<(), ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    append(&tx, events).await?;
    tx.commit().await?;
    Ok(())
}
