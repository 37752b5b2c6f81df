//! The postings' statistics two-word searches estimate their matches from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform::db::GenericClient;

/// How long an instance uses the statistics it read ([`LexemeStats::cached`]).
pub const STATS_TTL: Duration = Duration::from_secs(300);

/// An instance's [`LexemeStats`] and when they were read.
pub type StatsCache = Mutex<Option<(Instant, Option<Arc<LexemeStats>>)>>;

/// The planner's statistics of `listing_terms.lexeme`: the most common lexemes' shares of
/// the postings, the table's size and the listings'. Enough to estimate how many listings
/// two words have in common.
#[derive(Debug, Default)]
pub struct LexemeStats {
    shares: HashMap<String, f64>,
    /// The share of the rarest common lexeme: an upper bound for any other.
    rarest: f64,
    postings: f64,
    listings: f64,
}

impl LexemeStats {
    /// Reads them; `None` before `listing_terms` has been analysed.
    pub async fn load(c: &impl GenericClient) -> Result<Option<Self>, tokio_postgres::Error> {
        let rows = c
            .query(
                "SELECT m.v, m.f::float8, t.reltuples::float8, l.reltuples::float8
                   FROM pg_class t
                   JOIN pg_class l ON l.oid = 'listings'::regclass
                   JOIN pg_stats s ON s.schemaname = t.relnamespace::regnamespace::text
                                  AND s.tablename = t.relname AND s.attname = 'lexeme',
                        unnest(s.most_common_vals::text::text[], s.most_common_freqs) m(v, f)
                  WHERE t.oid = 'listing_terms'::regclass AND t.reltuples > 0",
                &[],
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let shares: HashMap<String, f64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(Some(Self {
            rarest: shares.values().copied().fold(f64::INFINITY, f64::min),
            shares,
            postings: first.get(2),
            listings: first.get(3),
        }))
    }

    /// The statistics an instance uses, read again when they are [`STATS_TTL`] old (and
    /// whenever the last attempt found none or failed, at most as often).
    pub async fn cached(cache: &StatsCache, c: &impl GenericClient) -> Option<Arc<LexemeStats>> {
        if let Some((at, stats)) = &*cache.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < STATS_TTL
        {
            return stats.clone();
        }
        let stats = match Self::load(c).await {
            Ok(stats) => stats.map(Arc::new),
            Err(e) => {
                tracing::warn!(error = %e, "reading the postings' statistics failed");
                None
            }
        };
        *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), stats.clone()));
        stats
    }

    /// Estimated listings with both lexemes, as if they occurred independently.
    pub fn pair_matches(&self, a: &str, b: &str) -> f64 {
        let share = |l: &str| self.shares.get(l).copied().unwrap_or(self.rarest);
        share(a) * share(b) * self.postings * self.postings / self.listings.max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_estimates_treat_words_as_independent_and_other_words_as_the_rarest() {
        let stats = LexemeStats {
            shares: HashMap::from([("summar".into(), 0.02), ("deploy".into(), 0.005)]),
            rarest: 0.001,
            postings: 20_000_000.0,
            listings: 1_000_000.0,
        };
        // 400,000 listings with one word, 100,000 with the other: 40,000 with both.
        assert!((stats.pair_matches("summar", "deploy") - 40_000.0).abs() < 1e-6);
        // A word outside the common ones counts as the rarest of them (20,000 listings).
        assert!((stats.pair_matches("deploy", "zebra") - 2_000.0).abs() < 1e-6);
        let empty = LexemeStats::default();
        assert_eq!(empty.pair_matches("a", "b"), 0.0);
    }
}
