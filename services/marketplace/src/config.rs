//! The marketplace service's settings: the common ones plus its own.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};

/// Everything the marketplace service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings shared by every service.
    pub common: CommonConfig,
    /// `MARKETPLACE_ENABLED` (true): when false, every route of this service answers 404 and
    /// the change feed is not followed.
    pub enabled: bool,
    /// `MARKETPLACE_CACHE_ENTRIES` (4096): search responses kept per instance; 0 turns the
    /// response cache off.
    pub cache_entries: usize,
    /// `MARKETPLACE_CACHE_POLL_MS` (200): how often an instance looks for changed listings to
    /// drop the cached responses they affect.
    pub cache_poll: Duration,
    /// `MARKETPLACE_MAX_AGE_SECS` (1): `Cache-Control: public, max-age` of listing responses;
    /// shared caches (CDNs) may show a removed listing this much longer.
    pub max_age_secs: u32,
    /// `MARKETPLACE_SEARCH_TIMEOUT_MS` (3000): longest a search may run in the database
    /// before it is cancelled (503 `search_timeout`).
    pub search_timeout: Duration,
    /// `MARKETPLACE_SEARCH_CONCURRENCY` (4): searches one instance runs in the database at
    /// once; the others wait for a turn (up to the search timeout), the address running the
    /// fewest first.
    pub search_concurrency: usize,
    /// `MARKETPLACE_SEARCH_IP_CONCURRENCY` (4): uncached searches one client address (IPv6:
    /// one /64) may have in flight on an instance, waiting or running; more are refused (429
    /// `rate_limited`). Cached answers are not counted.
    pub search_ip_concurrency: usize,
    /// `MARKETPLACE_PAIR_MATCHES_MIN` (3000): a search of two words whose estimated matches
    /// reach this many ranks only the listings that can make the page (`repo::search`);
    /// fewer are all ranked through the full-text index, which is then cheaper. 0: always.
    pub pair_matches_min: f64,
    /// `MARKETPLACE_FEED_PAGE_SIZE` (1000): events per change-feed page.
    pub feed_page_size: u32,
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Marketplace);
        let enabled = r.bool("MARKETPLACE_ENABLED", true);
        let cache_entries = r.u64_in("MARKETPLACE_CACHE_ENTRIES", 4096, 0, 1_000_000) as usize;
        let cache_poll = r.millis("MARKETPLACE_CACHE_POLL_MS", 200, 10, 500);
        let max_age_secs = r.u64_in("MARKETPLACE_MAX_AGE_SECS", 1, 0, 3_600) as u32;
        let search_timeout = r.millis("MARKETPLACE_SEARCH_TIMEOUT_MS", 3_000, 10, 60_000);
        let search_concurrency = r.u64_in("MARKETPLACE_SEARCH_CONCURRENCY", 4, 1, 1_000) as usize;
        let search_ip_concurrency =
            r.u64_in("MARKETPLACE_SEARCH_IP_CONCURRENCY", 4, 1, 1_000_000) as usize;
        let pair_matches_min =
            r.u64_in("MARKETPLACE_PAIR_MATCHES_MIN", 3_000, 0, 1_000_000_000) as f64;
        let feed_page_size = r.u64_in("MARKETPLACE_FEED_PAGE_SIZE", 1_000, 1, 1_000) as u32;
        r.finish()?;
        Ok(Self {
            common,
            enabled,
            cache_entries,
            cache_poll,
            max_age_secs,
            search_timeout,
            search_concurrency,
            search_ip_concurrency,
            pair_matches_min,
            feed_page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let c = Config::from_env(&Env::default()).unwrap();
        assert!(c.enabled);
        assert_eq!(c.cache_entries, 4096);
        assert_eq!(c.max_age_secs, 1);
        assert_eq!((c.search_concurrency, c.search_ip_concurrency), (4, 4));
        assert_eq!(c.pair_matches_min, 3_000.0);
        let bad = Env::from_pairs([
            ("MARKETPLACE_CACHE_POLL_MS", "5000"),
            ("MARKETPLACE_FEED_PAGE_SIZE", "0"),
        ]);
        let vars: Vec<String> = Config::from_env(&bad)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.var)
            .collect();
        assert_eq!(
            vars,
            ["MARKETPLACE_CACHE_POLL_MS", "MARKETPLACE_FEED_PAGE_SIZE"]
        );
    }
}
