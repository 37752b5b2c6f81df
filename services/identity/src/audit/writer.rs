//! Group commit of audit events.
//!
//! Requests hand their event to one writer task and wait. The writer takes everything queued
//! (up to `AUDIT_BATCH_MAX`), appends it in one transaction and wakes each request when its
//! event is durably committed; while one batch commits the next one fills up, so the cost of
//! a commit (an fsync) is shared by every request that arrived meanwhile. A request is never
//! told its event is stored before the commit returns, and a failed batch fails every request
//! in it (the token endpoint then answers 503 and returns no token).
//!
//! Round trips are what a commit cycle costs on a busy machine: the statements
//! ([`crate::repo::audit_batch`]) append a batch in one round trip while no other writer
//! moved a chain's head, two otherwise.
//!
//! At shutdown a flush hook waits until everything queued before it is written.

use std::time::Instant;

use metrics::{Counter, Histogram};
use platform::db::Db;
use platform::shutdown::Shutdown;
use platform::telemetry::Metrics;
use tokio::sync::{mpsc, oneshot};

use super::event::NewEvent;
use super::signal::FeedSignal;
use crate::repo::audit_batch::{KnownHeads, write};

enum Job {
    Event(NewEvent, oneshot::Sender<bool>),
    Flush(oneshot::Sender<()>),
}

/// The event could not be stored: the request must not succeed (answered 503).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit log cannot record this request right now; try again shortly")]
pub struct AuditUnavailable;

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

    /// Appends `event` and returns once it is committed.
    pub async fn record(&self, event: NewEvent) -> Result<(), AuditUnavailable> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job::Event(event, done))
            .await
            .map_err(|_| AuditUnavailable)?;
        match wait.await {
            Ok(true) => Ok(()),
            _ => Err(AuditUnavailable),
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
    let mut known = KnownHeads::new();
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
