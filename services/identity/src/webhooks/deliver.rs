//! The dispatcher: fan-out and delivery loops, one of each per instance.
//!
//! Delivery is bounded: an instance attempts at most `WEBHOOK_CONCURRENCY` deliveries at
//! once and at most `WEBHOOK_TENANT_CONCURRENCY` of one tenant, so a tenant whose receivers
//! are slow cannot take every slot; an attempt ends within `WEBHOOK_TIMEOUT_MS` (names
//! resolve within that too); at most `WEBHOOK_RESPONSE_MAX_BYTES` of an answer are read; the
//! client never goes through a proxy named by the environment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::Counter;
use platform::ApiError;
use platform::db::Db;
use platform::telemetry::Metrics;
use reqwest::Url;
use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::fanout;
use super::guard::{GuardedResolver, TargetPolicy};
use super::signing::{SIGNATURE_HEADER, open_secret, signature};
use crate::audit::signal::FeedSignal;
use crate::config::WebhookConfig;
use crate::crypto::Kek;
use crate::repo::deliveries::{self, AttemptResult, ClaimLimits, Claimed, DeliveryStatus};

/// Shortest time between two fan-out transactions.
const FANOUT_MIN_INTERVAL: Duration = Duration::from_millis(20);

/// Most bytes of a receiver's error body kept in the history.
const ERROR_EXCERPT: usize = 200;

/// Deliveries in flight on this instance, per tenant.
#[derive(Debug, Default)]
struct InFlight(Mutex<HashMap<Uuid, i64>>);

impl InFlight {
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, i64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> Vec<(Uuid, i64)> {
        self.counts().iter().map(|(t, n)| (*t, *n)).collect()
    }

    /// Counts one more of `tenant`'s deliveries; how many are in flight now.
    fn enter(self: &Arc<Self>, tenant: Uuid) -> (InFlightTurn, i64) {
        let mut counts = self.counts();
        let n = counts.entry(tenant).or_default();
        *n += 1;
        let now = *n;
        drop(counts);
        (
            InFlightTurn {
                in_flight: self.clone(),
                tenant,
            },
            now,
        )
    }
}

/// One delivery in flight; dropping it counts it out.
struct InFlightTurn {
    in_flight: Arc<InFlight>,
    tenant: Uuid,
}

impl Drop for InFlightTurn {
    fn drop(&mut self) {
        let mut counts = self.in_flight.counts();
        if let Some(n) = counts.get_mut(&self.tenant) {
            *n -= 1;
            if *n <= 0 {
                counts.remove(&self.tenant);
            }
        }
    }
}

struct Inner {
    db: Db,
    kek: Kek,
    config: WebhookConfig,
    policy: Arc<TargetPolicy>,
    client: reqwest::Client,
    in_flight: Arc<InFlight>,
    due: Notify,
    delivered: Counter,
    failed: Counter,
    dead: Counter,
}

/// Runs webhook fan-out and delivery.
#[derive(Clone)]
pub struct Dispatcher(Arc<Inner>);

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher; nothing runs until [`Dispatcher::spawn`].
    pub fn new(db: Db, kek: Kek, config: WebhookConfig, metrics: &Metrics) -> anyhow::Result<Self> {
        let policy = Arc::new(
            TargetPolicy::new(config.allowed_networks.clone()).resolving_within(config.timeout),
        );
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver(policy.clone()))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("AgentIdP-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let counter =
            |outcome| metrics.counter("agentidp_webhook_attempts_total", &[("outcome", outcome)]);
        Ok(Self(Arc::new(Inner {
            db,
            kek,
            policy,
            client,
            in_flight: Arc::default(),
            due: Notify::new(),
            delivered: counter("delivered"),
            failed: counter("failed"),
            dead: counter("dead"),
            config,
        })))
    }

    /// Wakes the delivery loop (a delivery came due).
    pub fn wake(&self) {
        self.0.due.notify_one();
    }

    /// The URL policy (subscriptions are checked against it when saved).
    pub fn policy(&self) -> &TargetPolicy {
        &self.0.policy
    }

    /// Starts the fan-out and delivery loops; they stop with `stop`.
    pub fn spawn(&self, feed: FeedSignal, stop: CancellationToken) {
        let fan = self.clone();
        let stop_fan = stop.clone();
        tokio::spawn(async move { fan.fan_out_loop(feed, stop_fan).await });
        let send = self.clone();
        tokio::spawn(async move { send.delivery_loop(stop).await });
    }

    /// Fans the feed out. Local commits wake it only while some subscription is active, and
    /// never more often than every [`FANOUT_MIN_INTERVAL`]: under a token load every group
    /// commit signals, and a fan-out transaction per commit would compete with the writer.
    async fn fan_out_loop(self, feed: FeedSignal, stop: CancellationToken) {
        let mut backoff_wait = Duration::from_millis(100);
        loop {
            let woken = feed.notified();
            let started = tokio::time::Instant::now();
            let (wait, listen) = match fanout::fan_out_once(&self.0.db).await {
                Ok(outcome) if outcome.events > 0 => {
                    self.0.due.notify_one();
                    backoff_wait = Duration::from_millis(100);
                    continue;
                }
                Ok(outcome) => (self.0.config.poll_interval, outcome.active),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook fan-out failed; retrying");
                    backoff_wait = (backoff_wait * 2).min(Duration::from_secs(30));
                    (backoff_wait, false)
                }
            };
            let woken = async {
                if listen {
                    woken.await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = woken => {}
                () = tokio::time::sleep(wait) => {}
            }
            tokio::time::sleep_until(started + FANOUT_MIN_INTERVAL).await;
        }
    }

    async fn delivery_loop(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.0.config.concurrency));
        let lease = self.0.config.timeout + Duration::from_secs(30);
        loop {
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self.claim(free as i64, lease).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming webhook deliveries failed");
                        Vec::new()
                    }
                }
            };
            // Claim again at once when the claim was full, or when a tenant just reached its
            // cap: the next claim leaves it out and finds the other tenants' deliveries.
            let mut more = free > 0 && claimed.len() == free;
            for d in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                let (turn, now) = self.0.in_flight.enter(d.tenant_id);
                more |= now >= self.0.config.tenant_concurrency as i64;
                let this = self.clone();
                tokio::spawn(async move {
                    this.attempt(d).await;
                    drop(turn);
                    drop(permit);
                    this.0.due.notify_one();
                });
            }
            if more {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.0.due.notified() => {}
                () = tokio::time::sleep(self.0.config.poll_interval) => {}
            }
        }
    }

    async fn claim(&self, n: i64, lease: Duration) -> Result<Vec<Claimed>, ApiError> {
        let in_flight = self.0.in_flight.snapshot();
        let limits = ClaimLimits {
            n,
            per_tenant: self.0.config.tenant_concurrency as i64,
            in_flight: &in_flight,
        };
        let c = self.0.db.get().await?;
        Ok(deliveries::claim(&c, limits, lease).await?)
    }

    /// Makes one attempt of `d` and records it.
    async fn attempt(&self, d: Claimed) {
        let at = OffsetDateTime::now_utc();
        let started = Instant::now();
        let outcome = self.send(&d, at).await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let attempt = d.attempts + 1;
        let ok = matches!(&outcome, Ok((code, _)) if (200..300).contains(code));
        let (status_code, error) = match outcome {
            Ok((code, _)) if ok => (Some(i32::from(code)), None),
            Ok((code, excerpt)) if excerpt.is_empty() => (
                Some(i32::from(code)),
                Some(format!("receiver answered {code}")),
            ),
            Ok((code, excerpt)) => (
                Some(i32::from(code)),
                Some(format!("receiver answered {code}: {excerpt}")),
            ),
            Err(e) => (None, Some(e)),
        };
        let max = i32::try_from(self.0.config.max_attempts).unwrap_or(i32::MAX);
        let (status, retry_at) = if ok {
            self.0.delivered.increment(1);
            (DeliveryStatus::Delivered, None)
        } else if attempt >= max {
            self.0.dead.increment(1);
            tracing::warn!(delivery.id = %d.id, webhook.id = %d.webhook_id, attempts = attempt, "webhook delivery dead-lettered");
            (DeliveryStatus::Dead, None)
        } else {
            self.0.failed.increment(1);
            let wait = backoff(
                attempt as u32,
                self.0.config.retry_base,
                self.0.config.retry_max,
            );
            (DeliveryStatus::Pending, Some(at + wait))
        };
        let result = AttemptResult {
            attempt,
            at,
            status_code,
            error,
            duration_ms,
            status,
            retry_at,
        };
        let recorded = async {
            let c = self.0.db.get().await?;
            deliveries::record(&c, d.id, &result).await?;
            Ok::<_, ApiError>(())
        }
        .await;
        if let Err(e) = recorded {
            // The lease runs out and the delivery comes due again: at least once.
            tracing::warn!(delivery.id = %d.id, error = %e, "could not record a webhook attempt");
        }
    }

    /// Posts the delivery: the receiver's status and, for a failure, an excerpt of its
    /// answer; or why there is no answer.
    async fn send(&self, d: &Claimed, at: OffsetDateTime) -> Result<(u16, String), String> {
        let url = Url::parse(&d.url).map_err(|_| "invalid target URL".to_owned())?;
        self.0.policy.check_literal(&url)?;
        let secret = open_secret(&self.0.kek, d.webhook_id, &d.secret_enc)
            .map_err(|_| "the signing secret could not be opened".to_owned())?;
        let sig = signature(&secret, at.unix_timestamp(), d.body.as_bytes());
        let res = self
            .0
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sig)
            .header("x-agentidp-event", &d.event_type)
            .header("x-agentidp-event-id", d.event_id.to_string())
            .header("x-agentidp-delivery", d.id.to_string())
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = res.status().as_u16();
        if (200..300).contains(&status) {
            return Ok((status, String::new()));
        }
        Ok((status, excerpt(res, self.0.config.response_max_bytes).await))
    }
}

/// The start of a receiver's answer, from at most `max` bytes of it; the rest is never
/// read (the connection is dropped with it).
async fn excerpt(mut res: reqwest::Response, max: usize) -> String {
    let mut head = Vec::with_capacity(max.min(4096));
    while head.len() < max {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(max - head.len());
                head.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&head)
        .chars()
        .take(ERROR_EXCERPT)
        .collect()
}

fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The wait before attempt `attempt + 1`, after `attempt` failures.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1_u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        let waits: Vec<u64> = (1..=10).map(|a| backoff(a, base, max).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(backoff(40, base, max), max);
    }
}
