//! Usage metering: per-tenant counters of `api_calls` and `token_issuances`, kept in memory
//! and drained in batches.
//!
//! Counting is a lock-free atomic add once a tenant's counters exist, so it is free on the
//! token hot path. A flusher (wired up by the service) drains the counters at most every
//! 60 s and at shutdown and sends them to billing with a batch id; a batch that fails to
//! send is kept and retried with the same id, so billing counts it once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Authenticated management API calls.
    ApiCalls,
    /// Access tokens issued.
    TokenIssuances,
}

impl Metric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiCalls => "api_calls",
            Self::TokenIssuances => "token_issuances",
        }
    }
}

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
