//! The marketplace service's settings: the common ones plus its own.

use std::path::PathBuf;
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
    /// response cache off, as `MARKETPLACE_CACHE_ENABLED=false` does.
    pub cache_entries: usize,
    /// `MARKETPLACE_CACHE_POLL_MS` (200): how often an instance looks for changed listings to
    /// apply them to its search index and drop the cached responses they affect.
    pub cache_poll: Duration,
    /// `MARKETPLACE_INDEX_DIR` (`<system temp dir>/agentidp-marketplace-index`): where the
    /// instance keeps its search index (one directory per instance: a volume in Kubernetes).
    pub index_dir: PathBuf,
    /// `MARKETPLACE_MAX_AGE_SECS` (1): `Cache-Control: public, max-age` of listing responses;
    /// shared caches (CDNs) may show a removed listing this much longer.
    pub max_age_secs: u32,
    /// `MARKETPLACE_SEARCH_TIMEOUT_MS` (3000): longest a search waits for a turn, and runs in
    /// the database (browsing without a text) before it is cancelled (503 `search_timeout`).
    pub search_timeout: Duration,
    /// `MARKETPLACE_SEARCH_CONCURRENCY` (4): uncached searches one instance runs at once; the
    /// others wait for a turn (up to the search timeout), the address running the fewest
    /// first.
    pub search_concurrency: usize,
    /// `MARKETPLACE_SEARCH_IP_CONCURRENCY` (4): uncached searches one client address (IPv6:
    /// one /64) may have in flight on an instance, waiting or running; more are refused (429
    /// `rate_limited`). Cached answers are not counted.
    pub search_ip_concurrency: usize,
    /// `MARKETPLACE_FEED_PAGE_SIZE` (1000): events per change-feed page.
    pub feed_page_size: u32,
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Marketplace);
        let enabled = r.bool("MARKETPLACE_ENABLED", true);
        let cache_enabled = r.bool("MARKETPLACE_CACHE_ENABLED", true);
        let cache_entries = r.u64_in("MARKETPLACE_CACHE_ENTRIES", 4096, 0, 1_000_000) as usize;
        let cache_entries = if cache_enabled { cache_entries } else { 0 };
        let cache_poll = r.millis("MARKETPLACE_CACHE_POLL_MS", 200, 10, 500);
        let index_dir = r.opt_string("MARKETPLACE_INDEX_DIR").map_or_else(
            || std::env::temp_dir().join("agentidp-marketplace-index"),
            PathBuf::from,
        );
        let max_age_secs = r.u64_in("MARKETPLACE_MAX_AGE_SECS", 1, 0, 3_600) as u32;
        let search_timeout = r.millis("MARKETPLACE_SEARCH_TIMEOUT_MS", 3_000, 10, 60_000);
        let search_concurrency = r.u64_in("MARKETPLACE_SEARCH_CONCURRENCY", 4, 1, 1_000) as usize;
        let search_ip_concurrency =
            r.u64_in("MARKETPLACE_SEARCH_IP_CONCURRENCY", 4, 1, 1_000_000) as usize;
        let feed_page_size = r.u64_in("MARKETPLACE_FEED_PAGE_SIZE", 1_000, 1, 1_000) as u32;
        r.finish()?;
        Ok(Self {
            common,
            enabled,
            cache_entries,
            cache_poll,
            index_dir,
            max_age_secs,
            search_timeout,
            search_concurrency,
            search_ip_concurrency,
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
        assert!(c.index_dir.ends_with("agentidp-marketplace-index"));
        let off = Env::from_pairs([("MARKETPLACE_CACHE_ENABLED", "false")]);
        assert_eq!(Config::from_env(&off).unwrap().cache_entries, 0);
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
