//! The `quota` component of `/health/detailed`.

use std::sync::Arc;

use super::enforcer::{DEGRADED_FOR, Quota, lock};
use crate::health::{Component, ExtraCheck, Status};

impl Quota {
    /// The `quota` component of `/health/detailed`: `degraded` for a minute after Redis failed
    /// a quota call (counting and enforcement fail open meanwhile).
    pub fn health_check(&self) -> ExtraCheck {
        let this = self.clone();
        Arc::new(move || {
            if !this.inner.enabled {
                return None;
            }
            let failed = lock(&this.inner.redis_failed).clone();
            let c = match failed {
                Some((at, msg)) if at.elapsed() < DEGRADED_FOR => Component {
                    status: Status::Degraded,
                    latency_ms: 0,
                    message: Some(format!(
                        "tier limits fail open: redis failed {} s ago ({msg})",
                        at.elapsed().as_secs()
                    )),
                },
                _ => Component {
                    status: Status::Healthy,
                    latency_ms: 0,
                    message: None,
                },
            };
            Some(("quota", c))
        })
    }
}
