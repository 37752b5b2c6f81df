//! Scoring with fixed statistics, and the keyset page collector.
//!
//! BM25 weighs a term by how rare it is in the whole index; those statistics move with every
//! listing added or removed, and with them every score, so a cursor's `(score, id)` would no
//! longer mark the same place. Scores here come from fixed statistics
//! ([`FixedStatistics`]): a listing's score depends on the listing and the query only (term
//! frequencies, field lengths, boosts), the same on every instance and at any time. Rare and
//! common words weigh the same; what ranks is where the words stand and how often.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{Bm25StatisticsProvider, Scorer, Weight};
use tantivy::schema::Field;
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

use super::fields::{ID_HIGH, ID_LOW};

/// Documents the statistics pretend the index holds.
const DOCS: u64 = 1_000_000;
/// Documents the statistics pretend hold any term (an idf of about 4.6).
const DOC_FREQ: u64 = 10_000;
/// Tokens per document the statistics pretend a field averages (BM25's length normalization
/// compares a field's length with it).
const AVERAGE_TOKENS: u64 = 8;

/// Corpus statistics that never change.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedStatistics;

impl Bm25StatisticsProvider for FixedStatistics {
    fn total_num_tokens(&self, _field: Field) -> tantivy::Result<u64> {
        Ok(DOCS * AVERAGE_TOKENS)
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(DOCS)
    }

    fn doc_freq(&self, _term: &Term) -> tantivy::Result<u64> {
        Ok(DOC_FREQ)
    }
}

/// A result's place in the order: score, then id, both descending.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Key {
    /// The score.
    pub score: Score,
    /// The listing id.
    pub id: u128,
}

impl Key {
    /// The order of results: greater comes first.
    pub fn order(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.id.cmp(&other.id))
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Key,
    doc: DocAddress,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed, so that the heap's top is the worst result kept.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.order(&self.key)
    }
}

/// How a page's results are scored.
#[derive(Clone, Copy)]
pub enum Scoring<'a> {
    /// As the query scores them.
    Query,
    /// All the same.
    Constant(Score),
    /// The sum, in this order, of these weights' scores (each a term of the query): the same
    /// for a listing whatever else the query visits. The query only bounds scores from above
    /// (block-max pruning); `matching` says which listings match.
    Terms {
        /// The scored terms.
        terms: &'a [Box<dyn Weight>],
        /// Which listings match; `None`: every one the query visits.
        matching: Option<&'a Matching>,
        /// Whether the query's scores bound the sums (else nothing is skipped).
        bounded: bool,
        /// Listings likely to make the page (every word in the name), visited first so that
        /// pruning starts from their scores.
        seed: Option<&'a dyn Weight>,
    },
}

impl std::fmt::Debug for Scoring<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Query => f.write_str("Query"),
            Self::Constant(c) => write!(f, "Constant({c})"),
            Self::Terms {
                terms, matching, ..
            } => {
                write!(f, "Terms({} terms, {matching:?})", terms.len())
            }
        }
    }
}

/// The best `fetch` results strictly after `after`.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// How many.
    pub fetch: usize,
    /// The cursor's key.
    pub after: Option<Key>,
    /// How results are scored.
    pub scoring: Scoring<'a>,
}

/// Which listings match, term by term.
#[derive(Default)]
pub struct Matching {
    /// At least one of each group.
    pub groups: Vec<Vec<Box<dyn Weight>>>,
    /// None of these.
    pub forbidden: Vec<Box<dyn Weight>>,
    /// All of these.
    pub filters: Vec<Box<dyn Weight>>,
}

impl std::fmt::Debug for Matching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matching")
            .field("groups", &self.groups.len())
            .field("forbidden", &self.forbidden.len())
            .field("filters", &self.filters.len())
            .finish()
    }
}

/// A segment's [`Matching`].
struct SegmentMatching {
    groups: Vec<Vec<Box<dyn Scorer>>>,
    forbidden: Vec<Box<dyn Scorer>>,
    filters: Vec<Box<dyn Scorer>>,
}

impl SegmentMatching {
    fn matches(&mut self, doc: DocId) -> bool {
        self.filters.iter_mut().all(|s| on(s, doc))
            && !self.forbidden.iter_mut().any(|s| on(s, doc))
            && self
                .groups
                .iter_mut()
                .all(|g| g.iter_mut().any(|s| on(s, doc)))
    }
}

/// Below the worst kept score by this much (relative) a bound from the query still lets a
/// listing through: the query may sum the same terms in another order.
const BOUND_SLACK: Score = 1e-5;

/// How a segment scores.
enum SegmentScoring {
    Query,
    Constant(Score),
    Terms {
        terms: Vec<Box<dyn Scorer>>,
        matching: Option<SegmentMatching>,
    },
}

/// Moves `s` to `doc` if it is behind; whether it is on `doc`.
fn on(s: &mut Box<dyn Scorer>, doc: DocId) -> bool {
    if s.doc() < doc {
        s.seek(doc);
    }
    s.doc() == doc
}

/// A segment's share of a [`Page`].
pub struct SegmentPage {
    fetch: usize,
    bounded: bool,
    seed: Option<Box<dyn Scorer>>,
    seeded: HashSet<DocId>,
    after: Option<Key>,
    scoring: SegmentScoring,
    segment: SegmentOrdinal,
    high: Column<u64>,
    low: Column<u64>,
    heap: BinaryHeap<Entry>,
}

impl std::fmt::Debug for SegmentPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentPage")
            .field("segment", &self.segment)
            .field("kept", &self.heap.len())
            .finish()
    }
}

impl SegmentPage {
    fn id(&self, doc: DocId) -> u128 {
        let high = self.high.first(doc).unwrap_or_default();
        let low = self.low.first(doc).unwrap_or_default();
        (u128::from(high) << 64) | u128::from(low)
    }

    /// `doc`'s score given the query's `score` for it; `None` when it does not match.
    fn score(&mut self, doc: DocId, score: Score) -> Option<Score> {
        match &mut self.scoring {
            SegmentScoring::Query => Some(score),
            SegmentScoring::Constant(c) => Some(*c),
            SegmentScoring::Terms { terms, matching } => {
                if matching.as_mut().is_some_and(|m| !m.matches(doc)) {
                    return None;
                }
                let mut sum = 0.0;
                for t in terms.iter_mut() {
                    if on(t, doc) {
                        sum += t.score();
                    }
                }
                Some(sum)
            }
        }
    }

    /// Keeps `doc` if it matches, is after the cursor and among the best so far. `bound` is
    /// the query's score (an upper bound, give or take [`BOUND_SLACK`], of the score).
    fn offer(&mut self, doc: DocId, bound: Score) {
        let full = self.heap.len() >= self.fetch;
        if full
            && self.bounded
            && self
                .heap
                .peek()
                .is_some_and(|w| bound < w.key.score - slack(w.key.score))
        {
            return;
        }
        let Some(score) = self.score(doc, bound) else {
            return;
        };
        let key = Key {
            score,
            id: self.id(doc),
        };
        if self.after.is_some_and(|a| key.order(&a) != Ordering::Less) {
            return;
        }
        let entry = Entry {
            key,
            doc: DocAddress::new(self.segment, doc),
        };
        if !full {
            self.heap.push(entry);
        } else if self
            .heap
            .peek()
            .is_some_and(|w| key.order(&w.key) == Ordering::Greater)
        {
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    /// Scores at or below this cannot make the page (ties still can: a little below the
    /// worst kept).
    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(w) if self.bounded && self.heap.len() >= self.fetch => {
                w.key.score - slack(w.key.score)
            }
            _ => Score::NEG_INFINITY,
        }
    }
}

fn slack(score: Score) -> Score {
    (score.abs() * BOUND_SLACK).max(Score::EPSILON)
}

impl SegmentCollector for SegmentPage {
    type Fruit = Vec<(Key, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.offer(doc, score);
    }

    fn harvest(self) -> Self::Fruit {
        self.heap.into_iter().map(|e| (e.key, e.doc)).collect()
    }
}

impl Collector for Page<'_> {
    type Fruit = Vec<(Key, DocAddress)>;
    type Child = SegmentPage;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentPage> {
        let fast = reader.fast_fields();
        let scorers = |weights: &[Box<dyn Weight>]| -> tantivy::Result<Vec<Box<dyn Scorer>>> {
            weights.iter().map(|w| w.scorer(reader, 1.0)).collect()
        };
        let scoring = match self.scoring {
            Scoring::Query => SegmentScoring::Query,
            Scoring::Constant(c) => SegmentScoring::Constant(c),
            Scoring::Terms {
                terms, matching, ..
            } => SegmentScoring::Terms {
                terms: scorers(terms)?,
                matching: match matching {
                    Some(m) => Some(SegmentMatching {
                        groups: m
                            .groups
                            .iter()
                            .map(|g| scorers(g))
                            .collect::<tantivy::Result<_>>()?,
                        forbidden: scorers(&m.forbidden)?,
                        filters: scorers(&m.filters)?,
                    }),
                    None => None,
                },
            },
        };
        let (bounded, seed) = match self.scoring {
            Scoring::Terms { bounded, seed, .. } => (bounded, seed),
            _ => (true, None),
        };
        Ok(SegmentPage {
            fetch: self.fetch,
            bounded,
            seed: seed.map(|w| w.scorer(reader, 1.0)).transpose()?,
            seeded: HashSet::new(),
            after: self.after,
            scoring,
            segment,
            high: fast.u64(ID_HIGH)?,
            low: fast.u64(ID_LOW)?,
            heap: BinaryHeap::with_capacity(self.fetch + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Key, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.order(&a.0));
        all.truncate(self.fetch);
        Ok(all)
    }

    /// Skips what cannot make the page (block-max WAND where the query allows it).
    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let mut page = self.for_segment(segment, reader)?;
        if self.fetch == 0 {
            return Ok(Vec::new());
        }
        let alive = reader.alive_bitset();
        if let Some(mut seed) = page.seed.take() {
            let mut doc = seed.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    page.offer(doc, Score::INFINITY);
                    page.seeded.insert(doc);
                }
                doc = seed.advance();
            }
        }
        let threshold = page.threshold();
        weight.for_each_pruning(threshold, reader, &mut |doc, score| {
            if alive.is_none_or(|a| a.is_alive(doc)) && !page.seeded.contains(&doc) {
                page.offer(doc, score);
            }
            page.threshold()
        })?;
        Ok(page.harvest())
    }
}
