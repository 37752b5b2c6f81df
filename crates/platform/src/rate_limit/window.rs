//! The sliding window in buckets, and its in-memory implementation (the fallback when Redis
//! is disabled or unreachable).

use std::collections::HashMap;

use super::decision::KeyOutcome;
use crate::config::limits::Limit;

/// Buckets per window.
const BUCKETS: u64 = 10;

/// Length of one bucket of `limit`'s window, in ms.
pub(super) fn bucket_ms(limit: Limit) -> u64 {
    (limit.window.as_millis() as u64).div_ceil(BUCKETS).max(1)
}

/// Buckets per window of `limit`.
pub(super) fn buckets(limit: Limit) -> u64 {
    (limit.window.as_millis() as u64).div_ceil(bucket_ms(limit))
}

/// The in-memory equivalent of the Redis script (`super::script::SCRIPT`).
#[derive(Default)]
pub(super) struct MemoryWindows {
    keys: HashMap<String, Window>,
    checks_since_sweep: u32,
}

/// One key's counts per bucket (bucket index, count), oldest first, and when its newest
/// bucket leaves the window (in ms, like `now`): the sweep compares times with times.
#[derive(Default)]
struct Window {
    buckets: Vec<(u64, u64)>,
    expires_ms: u64,
}

impl MemoryWindows {
    pub(super) fn check(&mut self, keys: &[String], limits: &[Limit], now: u64) -> Vec<KeyOutcome> {
        self.checks_since_sweep += 1;
        if self.checks_since_sweep >= 10_000 {
            self.sweep(now);
        }
        let mut out = Vec::with_capacity(keys.len());
        let mut ok = true;
        for (key, limit) in keys.iter().zip(limits) {
            let (bucket, nb) = (bucket_ms(*limit), buckets(*limit));
            let cur = now / bucket;
            let entries = &mut self.keys.entry(key.clone()).or_default().buckets;
            entries.retain(|(idx, _)| *idx + nb >= cur);
            let total: u64 = entries.iter().map(|e| e.1).sum();
            let mut o = KeyOutcome {
                allowed: total < limit.max,
                count: total,
                reset_ms: entries
                    .first()
                    .map_or(cur, |e| e.0)
                    .saturating_add(nb + 1)
                    .saturating_mul(bucket)
                    .saturating_sub(now),
                retry_ms: 0,
            };
            if !o.allowed {
                ok = false;
                let mut freed = 0;
                for (idx, c) in entries.iter() {
                    freed += c;
                    if total - freed < limit.max {
                        o.retry_ms = ((idx + nb + 1) * bucket).saturating_sub(now);
                        break;
                    }
                }
            }
            out.push(o);
        }
        if ok {
            for ((key, limit), o) in keys.iter().zip(limits).zip(out.iter_mut()) {
                let (bucket, nb) = (bucket_ms(*limit), buckets(*limit));
                let cur = now / bucket;
                let window = self.keys.entry(key.clone()).or_default();
                match window.buckets.last_mut() {
                    Some((idx, c)) if *idx == cur => *c += 1,
                    _ => window.buckets.push((cur, 1)),
                }
                window.expires_ms = (cur + nb + 1).saturating_mul(bucket);
                o.count += 1;
            }
        }
        out
    }

    /// Drops the keys whose every bucket has left its window.
    fn sweep(&mut self, now: u64) {
        self.checks_since_sweep = 0;
        self.keys.retain(|_, w| w.expires_ms > now);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limit(max: u64, window_ms: u64) -> Limit {
        Limit {
            max,
            window: Duration::from_millis(window_ms),
        }
    }

    #[test]
    fn memory_window_counts_and_refuses() {
        let mut m = MemoryWindows::default();
        let keys = vec!["a".to_owned()];
        let l = [limit(3, 10_000)];
        let t0 = 1_000_000;
        for i in 0..3 {
            let o = m.check(&keys, &l, t0 + i);
            assert!(o[0].allowed, "request {i}");
        }
        let o = m.check(&keys, &l, t0 + 10);
        assert!(!o[0].allowed);
        assert!(
            o[0].retry_ms > 0 && o[0].retry_ms <= 11_000,
            "{}",
            o[0].retry_ms
        );
        // After a window and a bucket, room again.
        let o = m.check(&keys, &l, t0 + 11_001);
        assert!(o[0].allowed);
    }

    #[test]
    fn memory_all_or_nothing() {
        let mut m = MemoryWindows::default();
        let keys = vec!["client".to_owned(), "ip".to_owned()];
        let l = [limit(100, 60_000), limit(1, 60_000)];
        assert!(m.check(&keys, &l, 5_000).iter().all(|o| o.allowed));
        let o = m.check(&keys, &l, 5_001);
        assert!(o[0].allowed && !o[1].allowed);
        // The refused request was not counted against the client key.
        assert_eq!(m.keys["client"].buckets.iter().map(|e| e.1).sum::<u64>(), 1);
    }

    #[test]
    fn windows_survive_a_sweep() {
        let mut m = MemoryWindows::default();
        let keys = vec!["full".to_owned()];
        let l = [limit(2, 60_000)];
        let now = 1_700_000_000_000;
        assert!(m.check(&keys, &l, now)[0].allowed);
        assert!(m.check(&keys, &l, now + 1)[0].allowed);
        m.sweep(now + 2);
        assert!(
            !m.check(&keys, &l, now + 3)[0].allowed,
            "the sweep emptied a live window"
        );
        // Once its last bucket has left the window, the key goes.
        m.sweep(now + 66_001);
        assert!(m.keys.is_empty());
    }
}
