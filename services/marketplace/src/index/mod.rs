//! The instance's search index (tantivy): the visible listings, searchable by text.
//!
//! PostgreSQL holds the projection; each instance keeps an index of its visible listings in
//! `MARKETPLACE_INDEX_DIR` and brings it up to date from the listings' `changed_version`
//! stamps ([`follow`]): every change the projection (or `marketplace seed`) commits is
//! indexed on every instance within a poll. The last commit's payload records which listing
//! version the index reflects ([`Meta`]), so a restarted instance goes on from there; an index
//! of another format, another `PUBLIC_URL`, or one ahead of the database (restored, recreated)
//! is built again from PostgreSQL.
//!
//! Fields, analyzers and documents are [`fields`]; the query of a search [`query`]; scores
//! and the keyset page [`collect`].

pub mod collect;
pub mod fields;
pub mod follow;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query};
use tantivy::schema::Value;
use tantivy::store::Compressor;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher,
    TantivyDocument,
};
use uuid::Uuid;

use collect::{FixedStatistics, Key, Matching, Page, Scoring};
use fields::{Fields, PLAIN, STEMMED};
use query::{Builder, Plan, Terms};

use crate::search::filter::SearchFilter;

/// The format of the documents and the scoring; an index of another is built again.
const FORMAT: u32 = 3;
/// The writer's memory budget for documents not yet committed.
const WRITER_HEAP: usize = 64 * 1024 * 1024;
/// Doc store blocks: small, so that reading a page's documents decompresses little.
const DOCSTORE_BLOCK: usize = 4096;

/// What the index's last commit reflects (its payload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The format of documents and scores (an index of another is built again).
    pub format: u32,
    /// The links in documents are under this.
    pub public_base: String,
    /// `listing_version.version` the index reflects.
    pub version: i64,
    /// `listing_version.reset_version` when it was built.
    pub reset: i64,
}

/// A searcher and the version it shows.
#[derive(Clone)]
pub struct Snapshot {
    /// The searcher.
    pub searcher: Searcher,
    /// What it reflects.
    pub meta: Meta,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("meta", &self.meta)
            .finish()
    }
}

/// A result.
#[derive(Debug, Clone)]
pub struct IndexHit {
    /// The listing.
    pub id: Uuid,
    /// Its place in the order.
    pub key: Key,
    /// Its JSON in results.
    pub body: Vec<u8>,
}

/// The index of one instance.
pub struct SearchIndex {
    index: Index,
    fields: Fields,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    current: RwLock<Arc<Snapshot>>,
    dir: PathBuf,
    public_base: String,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("dir", &self.dir)
            .field("meta", &self.snapshot().meta)
            .finish()
    }
}

fn payload(index: &Index) -> Option<Meta> {
    let metas = index.load_metas().ok()?;
    serde_json::from_str(metas.payload.as_deref()?).ok()
}

fn create(dir: &Path) -> anyhow::Result<Index> {
    let (schema, _) = fields::schema();
    let settings = IndexSettings {
        docstore_compression: Compressor::Lz4,
        docstore_blocksize: DOCSTORE_BLOCK,
        ..IndexSettings::default()
    };
    Ok(Index::builder()
        .schema(schema)
        .settings(settings)
        .create_in_dir(dir)?)
}

/// The index in `dir` when it is of this format and `public_base`, else a new empty one.
fn open_or_build(dir: &Path, public_base: &str) -> anyhow::Result<Index> {
    std::fs::create_dir_all(dir)?;
    let (schema, _) = fields::schema();
    if let Ok(index) = Index::open_in_dir(dir) {
        let ours = payload(&index)
            .is_some_and(|m| m.format == FORMAT && m.public_base == public_base)
            && index.schema() == schema;
        if ours {
            return Ok(index);
        }
        tracing::info!(dir = %dir.display(), "search index: another format; building it again");
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    create(dir)
}

impl SearchIndex {
    /// Opens the index in `dir` (or starts an empty one), its links under `public_base`.
    /// Fails when another process holds it.
    pub fn open(dir: &Path, public_base: &str) -> anyhow::Result<Self> {
        let index = open_or_build(dir, public_base)?;
        fields::register(index.tokenizers());
        let (_, fields) = fields::schema();
        let writer = index.writer_with_num_threads(1, WRITER_HEAP).map_err(|e| {
            anyhow::Error::from(e).context(format!("search index {}", dir.display()))
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let meta = payload(&index).unwrap_or_else(|| Meta {
            format: FORMAT,
            public_base: public_base.to_owned(),
            ..Meta::default()
        });
        let current = RwLock::new(Arc::new(Snapshot {
            searcher: reader.searcher(),
            meta,
        }));
        Ok(Self {
            index,
            fields,
            reader,
            writer: Mutex::new(writer),
            current,
            dir: dir.to_owned(),
            public_base: public_base.to_owned(),
        })
    }

    /// [`SearchIndex::open`], waiting up to `wait` while another instance (one stopping)
    /// still holds the directory.
    pub async fn open_waiting(
        dir: &Path,
        public_base: &str,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        loop {
            match Self::open(dir, public_base) {
                Err(e)
                    if started.elapsed() < wait
                        && matches!(
                            e.downcast_ref::<tantivy::TantivyError>(),
                            Some(tantivy::TantivyError::LockFailure(..))
                        ) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// The searcher in use and what it reflects.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn writer(&self) -> MutexGuard<'_, IndexWriter> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `PUBLIC_URL` without a trailing slash, which the documents' links are under.
    pub fn public_base(&self) -> &str {
        &self.public_base
    }

    /// The fields (to build documents).
    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Stages `changes`: each listing's old document goes, and a shown one's new document
    /// ([`fields::document`]) comes. Blocks while the indexing thread is behind.
    pub fn stage(&self, changes: Vec<(Uuid, Option<TantivyDocument>)>) -> anyhow::Result<()> {
        let w = self.writer();
        for (id, doc) in changes {
            w.delete_term(fields::id_term(&self.fields, id));
            if let Some(doc) = doc {
                w.add_document(doc)?;
            }
        }
        Ok(())
    }

    /// Stages the removal of every document (before building again).
    pub fn stage_clear(&self) -> anyhow::Result<()> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Commits what was staged as reflecting `version` (after the reset `reset`) and searches
    /// it from now on.
    pub fn commit(&self, version: i64, reset: i64) -> anyhow::Result<()> {
        let meta = Meta {
            format: FORMAT,
            public_base: self.public_base.clone(),
            version,
            reset,
        };
        {
            let mut w = self.writer();
            let mut prepared = w.prepare_commit()?;
            prepared.set_payload(&serde_json::to_string(&meta)?);
            prepared.commit()?;
        }
        self.reader.reload()?;
        let next = Arc::new(Snapshot {
            searcher: self.reader.searcher(),
            meta,
        });
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        Ok(())
    }

    fn builder<'a>(&'a self, searcher: &'a Searcher) -> anyhow::Result<Builder<'a>> {
        let get = |name| {
            self.index
                .tokenizers()
                .get(name)
                .ok_or_else(|| anyhow::anyhow!("analyzer {name} is not registered"))
        };
        Ok(Builder::new(
            &self.fields,
            searcher,
            get(STEMMED)?,
            get(PLAIN)?,
        ))
    }

    /// The best `fetch` keys of `plan` after `after`. `driven_by_words`: visit the listings the
    /// words match (few: filters or ids restrict them) rather than those of any scored term.
    fn run(
        searcher: &Searcher,
        plan: &Plan,
        after: Option<Key>,
        fetch: usize,
        driven_by_words: bool,
    ) -> anyhow::Result<Vec<(Key, DocAddress)>> {
        let stats = &FixedStatistics;
        let mut top = Vec::new();
        if after.is_none_or(|a| a.score >= query::EXACT) {
            let page = Page {
                fetch,
                after,
                scoring: Scoring::Query,
            };
            top = searcher.search_with_statistics_provider(plan.exact.as_ref(), &page, stats)?;
        }
        let (Some(words), true) = (&plan.words, top.len() < fetch) else {
            return Ok(top);
        };
        let page = |scoring| Page {
            fetch: fetch - top.len(),
            after: after.filter(|a| a.score < query::EXACT),
            scoring,
        };
        let more = match &plan.fast {
            None => searcher.search_with_statistics_provider(
                words.as_ref(),
                &page(Scoring::Query),
                stats,
            )?,
            Some(fast) => {
                let scored = EnableScoring::enabled_from_statistics_provider(stats, searcher);
                let unscored = EnableScoring::disabled_from_searcher(searcher);
                let weights = |qs: &[Box<dyn Query>], how| {
                    qs.iter()
                        .map(|q| q.weight(how))
                        .collect::<tantivy::Result<Vec<_>>>()
                };
                let terms = weights(&fast.terms, scored)?;
                if driven_by_words {
                    let scoring = Scoring::Terms {
                        terms: &terms,
                        matching: None,
                        bounded: true,
                        seed: None,
                    };
                    searcher.search_with_statistics_provider(
                        words.as_ref(),
                        &page(scoring),
                        stats,
                    )?
                } else {
                    // Up to two groups (words, or words joined by `or`): visit what any term
                    // matches, skipping what cannot make the page. More: visit the rarest
                    // group's matches and check the others term by term (measured cheaper).
                    let driver = if fast.groups.len() < 3 {
                        None
                    } else {
                        let size = |g: &Terms| {
                            let mut n = 0;
                            for q in g {
                                q.query_terms(&mut |t, _| {
                                    n += searcher.doc_freq(t).unwrap_or(u64::MAX / 64);
                                });
                            }
                            n
                        };
                        (0..fast.groups.len()).min_by_key(|&i| size(&fast.groups[i]))
                    };
                    let matching = Matching {
                        groups: fast
                            .groups
                            .iter()
                            .enumerate()
                            // Without a driver, one group is what the visit matches already.
                            .filter(|(i, _)| driver.map_or(fast.groups.len() > 1, |d| d != *i))
                            .map(|(_, g)| weights(g, unscored))
                            .collect::<tantivy::Result<_>>()?,
                        forbidden: weights(&fast.forbidden, unscored)?,
                        filters: weights(&fast.filters, unscored)?,
                    };
                    let seed = match (&fast.seed, driver) {
                        (Some(q), None) => Some(q.weight(unscored)?),
                        _ => None,
                    };
                    let scoring = Scoring::Terms {
                        terms: &terms,
                        matching: Some(&matching),
                        bounded: driver.is_none(),
                        seed: seed.as_deref(),
                    };
                    let visit = match driver {
                        Some(d) => &fast.groups[d],
                        None => &fast.terms,
                    };
                    let visit = BooleanQuery::new(
                        visit
                            .iter()
                            .map(|t| (Occur::Should, t.box_clone()))
                            .collect(),
                    );
                    searcher.search_with_statistics_provider(&visit, &page(scoring), stats)?
                }
            }
        };
        top.extend(more);
        Ok(top)
    }

    /// Up to `fetch` results of `filter` (which has a text) after `after`, best first, and
    /// the listing version they reflect.
    pub fn search(
        &self,
        filter: &SearchFilter,
        after: Option<Key>,
        fetch: usize,
    ) -> anyhow::Result<(i64, Vec<IndexHit>)> {
        let snap = self.snapshot();
        let searcher = &snap.searcher;
        let plan = self.builder(searcher)?.plan(filter, None);
        // A tag, capability or publisher keeps few listings: visit those.
        let narrow =
            filter.tag.is_some() || filter.capability.is_some() || filter.publisher.is_some();
        let top = Self::run(searcher, &plan, after, fetch, narrow)?;
        let mut hits = Vec::with_capacity(top.len());
        for (key, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let body = doc
                .get_first(self.fields.body)
                .and_then(|v| v.as_bytes())
                .unwrap_or_default()
                .to_vec();
            hits.push(IndexHit {
                id: Uuid::from_u128(key.id),
                key,
                body,
            });
        }
        Ok((snap.meta.version, hits))
    }

    /// The keys of those of `ids` that `filter` (with a text) selects, in `snapshot`.
    pub fn keys_among(
        &self,
        snapshot: &Snapshot,
        filter: &SearchFilter,
        ids: &[Uuid],
    ) -> anyhow::Result<Vec<Key>> {
        let searcher = &snapshot.searcher;
        let plan = self.builder(searcher)?.plan(filter, Some(ids));
        let top = Self::run(searcher, &plan, None, ids.len(), true)?;
        Ok(top.into_iter().map(|(k, _)| k).collect())
    }

    /// Documents searchable now.
    pub fn num_docs(&self) -> u64 {
        self.snapshot().searcher.num_docs()
    }
}

#[cfg(test)]
mod tests;
