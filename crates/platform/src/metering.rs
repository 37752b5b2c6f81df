//! Usage metering: per-tenant counters of `api_calls` and `token_issuances`, kept in memory
//! and drained in batches.
//!
//! Counting is a lock-free atomic add once a tenant's counters exist, so it is free on the
//! token hot path. The [`Flusher`] drains the counters at most every
//! `METERING_FLUSH_INTERVAL_MS` (60 s) and once more at shutdown, and sends them to billing
//! (`POST /internal/v1/usage`) as a batch with a UUID. A batch that fails to send is kept and
//! sent again, with the same id, before any newer counts, so billing counts it exactly once
//! even when an earlier attempt timed out after billing had committed it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use domain::usage::{UsageBatch, UsageEntry, UsageReceipt};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::future::BoxFuture;
use crate::internal_http::InternalHttp;
use crate::shutdown::Shutdown;

pub use domain::usage::Metric;

#[derive(Debug, Default)]
struct Counters {
    api_calls: AtomicU64,
    token_issuances: AtomicU64,
}

impl Counters {
    fn get(&self, m: Metric) -> &AtomicU64 {
        match m {
            Metric::ApiCalls => &self.api_calls,
            Metric::TokenIssuances => &self.token_issuances,
        }
    }
}

/// One tenant's drained counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCount {
    /// The tenant.
    pub tenant_id: Uuid,
    /// The metric.
    pub metric: Metric,
    /// How many since the last drain.
    pub count: u64,
}

/// The counters of one process.
#[derive(Debug, Clone, Default)]
pub struct Metering {
    tenants: Arc<RwLock<HashMap<Uuid, Arc<Counters>>>>,
}

impl Metering {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` to a tenant's metric.
    pub fn add(&self, tenant: Uuid, metric: Metric, n: u64) {
        let existing = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant)
            .cloned();
        let counters = match existing {
            Some(c) => c,
            None => self
                .tenants
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(tenant)
                .or_default()
                .clone(),
        };
        counters.get(metric).fetch_add(n, Ordering::Relaxed);
    }

    /// Takes every non-zero count, leaving zeros behind.
    pub fn drain(&self) -> Vec<UsageCount> {
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (tenant, c) in tenants.iter() {
            for metric in [Metric::ApiCalls, Metric::TokenIssuances] {
                let count = c.get(metric).swap(0, Ordering::Relaxed);
                if count > 0 {
                    out.push(UsageCount {
                        tenant_id: *tenant,
                        metric,
                        count,
                    });
                }
            }
        }
        out
    }

    /// Puts counts back (a batch that could not be delivered).
    pub fn restore(&self, counts: &[UsageCount]) {
        for c in counts {
            self.add(c.tenant_id, c.metric, c.count);
        }
    }
}

/// Where batches go: billing over internal HTTP, or billing's own store inside billing.
pub trait UsageSink: Send + Sync + 'static {
    /// Records a batch; must be idempotent on `batch.batch_id`.
    fn record<'a>(&'a self, batch: &'a UsageBatch) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Sends batches to `<BILLING_URL>/internal/v1/usage` with the service token.
#[derive(Debug, Clone)]
pub struct HttpSink(pub InternalHttp);

impl UsageSink for HttpSink {
    fn record<'a>(&'a self, batch: &'a UsageBatch) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let url = self.0.billing("/internal/v1/usage");
            let _: UsageReceipt = self.0.post_json(url, batch, true).await?;
            Ok(())
        })
    }
}

/// Drains a [`Metering`] into a [`UsageSink`], keeping an undelivered batch for the next try.
#[derive(Clone)]
pub struct Flusher {
    inner: Arc<FlusherInner>,
}

struct FlusherInner {
    service: &'static str,
    metering: Metering,
    default_sink: Arc<dyn UsageSink>,
    sink: OnceLock<Arc<dyn UsageSink>>,
    /// The batch that could not be delivered yet; sent again, unchanged, before newer counts.
    pending: tokio::sync::Mutex<Option<UsageBatch>>,
    sent: Mutex<u64>,
}

impl std::fmt::Debug for Flusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flusher")
            .field("service", &self.inner.service)
            .finish()
    }
}

/// The UTC day of `now`, `YYYY-MM-DD`.
pub fn utc_day(now: time::OffsetDateTime) -> String {
    let d = now.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl Flusher {
    /// A flusher of `metering` into `sink` for `service`.
    pub fn new(service: &'static str, metering: Metering, sink: Arc<dyn UsageSink>) -> Self {
        Self {
            inner: Arc::new(FlusherInner {
                service,
                metering,
                default_sink: sink,
                sink: OnceLock::new(),
                pending: tokio::sync::Mutex::new(None),
                sent: Mutex::new(0),
            }),
        }
    }

    /// Replaces the sink (billing records its own usage without HTTP); the first call wins.
    pub fn set_sink(&self, sink: Arc<dyn UsageSink>) {
        let _ = self.inner.sink.set(sink);
    }

    fn sink(&self) -> &Arc<dyn UsageSink> {
        self.inner.sink.get().unwrap_or(&self.inner.default_sink)
    }

    /// How many batches were delivered (tests, metrics).
    pub fn batches_sent(&self) -> u64 {
        *self
            .inner
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delivers the pending batch, if any, then the counts gathered since. Returns whether
    /// everything was delivered; what was not stays pending.
    pub async fn flush(&self) -> bool {
        let mut pending = self.inner.pending.lock().await;
        loop {
            if pending.is_none() {
                let counts = self.inner.metering.drain();
                if counts.is_empty() {
                    return true;
                }
                let day = utc_day(time::OffsetDateTime::now_utc());
                *pending = Some(UsageBatch {
                    batch_id: Uuid::new_v4(),
                    service: self.inner.service.to_owned(),
                    entries: counts
                        .into_iter()
                        .map(|c| UsageEntry {
                            tenant_id: c.tenant_id,
                            day: day.clone(),
                            metric: c.metric,
                            count: c.count,
                        })
                        .collect(),
                });
            }
            let Some(batch) = pending.as_ref() else {
                return true;
            };
            match self.sink().record(batch).await {
                Ok(()) => {
                    tracing::debug!(batch.id = %batch.batch_id, entries = batch.entries.len(), "usage batch delivered");
                    *pending = None;
                    *self
                        .inner
                        .sent
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
                }
                Err(e) => {
                    tracing::warn!(
                        batch.id = %batch.batch_id,
                        error = format!("{e:#}"),
                        "could not deliver a usage batch; it will be sent again"
                    );
                    return false;
                }
            }
        }
    }

    /// Flushes every `interval` until `stop`, and registers the final flush with `shutdown`
    /// (it runs after in-flight requests have finished).
    pub fn start(&self, interval: Duration, stop: CancellationToken, shutdown: &Shutdown) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                this.flush().await;
            }
        });
        let this = self.clone();
        shutdown.on_shutdown("metering", move || async move {
            // Each attempt already retries transport errors; one more try covers a billing
            // instance that was itself restarting.
            for attempt in 0..2u32 {
                if this.flush().await {
                    return;
                }
                if attempt == 0 {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            tracing::error!("usage counts could not be delivered before exit");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_drain_and_restore() {
        let m = Metering::new();
        let t = Uuid::new_v4();
        m.add(t, Metric::TokenIssuances, 3);
        m.add(t, Metric::ApiCalls, 1);
        let mut d = m.drain();
        d.sort_by_key(|c| c.metric.as_str());
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].count, 3);
        assert!(m.drain().is_empty());
        m.restore(&d);
        assert_eq!(m.drain().len(), 2);
    }
}
