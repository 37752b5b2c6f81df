//! Refused token, introspection and revocation requests of known clients in the audit log,
//! in bounded numbers.
//!
//! The first refusal of a client for a reason is audited at once, with `count: 1`, before
//! the answer (a refusal the audit log cannot record fails the request, as before). Further
//! refusals of that client for that reason within the next [`WINDOW`] are only counted in
//! memory. The first one after the window is audited with the count of every refusal since
//! the last event; when none comes, a background flush writes the pending count as one
//! summary event, and at shutdown every pending count is written. So refused attempts add
//! at most about one `token.refused` event per client, reason and minute to the chain (per
//! instance), and their number is kept: the counts of a client's events add up to its
//! refused attempts (a crash loses at most a window's count).
//!
//! At most [`CAPACITY`] clients are counted at once; beyond that, refusals are audited one
//! by one (only known clients are counted, and client ids are 128 random bits).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use platform::shutdown::Shutdown;
use serde_json::json;
use uuid::Uuid;

use crate::audit::event::NewEvent;
use crate::audit::writer::{AuditUnavailable, AuditWriter};
use crate::repo::clients::TokenClientRow;

/// How long refusals of one client for one reason are counted before the next event.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Most clients counted at once.
pub const CAPACITY: usize = 10_000;

/// The refusals of one client for one reason counted since its last event.
#[derive(Debug, Clone, Copy)]
struct Pending {
    reason: &'static str,
    tenant: Uuid,
    agent_id: Option<Uuid>,
    /// When its last event was written.
    opened: Instant,
    count: u64,
}

type Counts = HashMap<String, Vec<Pending>>;

/// Counts refusals and writes their events; cheap to clone.
#[derive(Debug, Clone)]
pub struct Refusals {
    counts: Arc<Mutex<Counts>>,
    audit: AuditWriter,
    window: Duration,
}

fn event(client_id: &str, p: &Pending, count: u64) -> NewEvent {
    NewEvent::new(
        p.tenant,
        format!("client:{client_id}"),
        "token.refused",
        Some(format!("client:{client_id}")),
    )
    .details(json!({
        "client_id": client_id,
        "agent_id": p.agent_id,
        "reason": p.reason,
        "count": count,
    }))
    .failed()
}

impl Refusals {
    /// Counts refusals for `window` between events written through `audit`.
    pub fn new(audit: AuditWriter, window: Duration) -> Self {
        Self {
            counts: Arc::new(Mutex::new(HashMap::new())),
            audit,
            window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the counts of quiet clients every quarter window until `shutdown`, and every
    /// pending count at shutdown.
    pub fn spawn_flush(&self, shutdown: &Shutdown) {
        let (this, stop) = (self.clone(), shutdown.token());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval((this.window / 4).max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => this.flush(false).await,
                }
            }
        });
        let this = self.clone();
        shutdown.on_shutdown(
            "token refusals",
            move || async move { this.flush(true).await },
        );
    }

    /// Audits (or counts) one refusal of `row` for `reason`, on `tenant`'s chain.
    pub async fn record(
        &self,
        row: &TokenClientRow,
        tenant: Uuid,
        reason: &'static str,
    ) -> Result<(), AuditUnavailable> {
        let now = Instant::now();
        let fresh = || Pending {
            reason,
            tenant,
            agent_id: row.agent_id,
            opened: now,
            count: 0,
        };
        let (count, tracked) = {
            let mut counts = self.lock();
            let full = counts.len() >= CAPACITY;
            match counts.get_mut(row.client_id.as_str()) {
                Some(list) => match list.iter_mut().find(|p| p.reason == reason) {
                    Some(p) if now.duration_since(p.opened) < self.window => {
                        p.count += 1;
                        return Ok(());
                    }
                    Some(p) => {
                        let count = p.count + 1;
                        p.opened = now;
                        p.count = 0;
                        (count, true)
                    }
                    None => {
                        list.push(fresh());
                        (1, true)
                    }
                },
                None if full => (1, false),
                None => {
                    counts.insert(row.client_id.clone(), vec![fresh()]);
                    (1, true)
                }
            }
        };
        let result = self
            .audit
            .record(event(&row.client_id, &fresh(), count))
            .await;
        if result.is_err() && tracked {
            // Not written: counted again, for the next event.
            self.add_back(&row.client_id, reason, count);
        }
        result
    }

    fn add_back(&self, client_id: &str, reason: &'static str, count: u64) {
        if let Some(p) = self
            .lock()
            .get_mut(client_id)
            .and_then(|list| list.iter_mut().find(|p| p.reason == reason))
        {
            p.count += count;
        }
    }

    /// Writes the pending counts of every client whose window is over (`all`: of every
    /// client) as summary events, and forgets clients with nothing pending.
    pub async fn flush(&self, all: bool) {
        let now = Instant::now();
        let mut due: Vec<(String, Pending)> = Vec::new();
        {
            let mut counts = self.lock();
            counts.retain(|client_id, list| {
                list.retain_mut(|p| {
                    let over = now.duration_since(p.opened) >= self.window;
                    if p.count > 0 && (all || over) {
                        due.push((client_id.clone(), *p));
                        p.count = 0;
                        p.opened = now;
                        return true;
                    }
                    !over
                });
                !list.is_empty()
            });
        }
        for (client_id, p) in due {
            if self
                .audit
                .record(event(&client_id, &p, p.count))
                .await
                .is_err()
            {
                // Counted again, for the next flush.
                let mut counts = self.lock();
                let list = counts.entry(client_id).or_default();
                match list.iter_mut().find(|q| q.reason == p.reason) {
                    Some(q) => q.count += p.count,
                    None => list.push(p),
                }
            }
        }
    }
}
