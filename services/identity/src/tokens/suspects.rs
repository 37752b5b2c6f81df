//! Addresses past their limit of failed client authentications, as this instance saw them.
//!
//! Such an address is not refused anything (a request with valid credentials is never
//! refused because of failures), but its lookups of clients this instance has never found
//! queue for a few database connections ([`SUSPECT_LOOKUPS`]), so random client ids from one
//! address cannot take the pool; refreshing a known client's expired entry never queues.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Concurrent lookups of uncached clients for suspect addresses, per instance.
pub const SUSPECT_LOOKUPS: usize = 2;

/// Most addresses remembered at once.
const CAPACITY: usize = 4_096;

/// The suspect addresses (limit subjects) and until when.
#[derive(Debug, Default)]
pub struct Suspects {
    /// How many are remembered: lets the common case (none) skip the lock.
    len: AtomicUsize,
    until: Mutex<HashMap<String, Instant>>,
}

impl Suspects {
    /// Remembers `subject` for `retry_after`.
    pub fn mark(&self, subject: &str, retry_after: Duration) {
        let now = Instant::now();
        let mut map = self
            .until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= CAPACITY {
            map.retain(|_, t| *t > now);
        }
        if map.len() < CAPACITY || map.contains_key(subject) {
            map.insert(subject.to_owned(), now + retry_after);
        }
        self.len.store(map.len(), Ordering::Relaxed);
    }

    /// Whether `subject` is past its failure limit.
    pub fn contains(&self, subject: &str) -> bool {
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut map = self
            .until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(subject) {
            Some(t) if *t > Instant::now() => true,
            Some(_) => {
                map.remove(subject);
                self.len.store(map.len(), Ordering::Relaxed);
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_suspect_until_its_retry_time() {
        let s = Suspects::default();
        assert!(!s.contains("198.51.100.1"));
        s.mark("198.51.100.1", Duration::from_secs(60));
        s.mark("198.51.100.2", Duration::ZERO);
        assert!(s.contains("198.51.100.1"));
        assert!(!s.contains("198.51.100.2"));
        assert!(!s.contains("198.51.100.3"));
        assert_eq!(s.len.load(Ordering::Relaxed), 1);
    }
}
