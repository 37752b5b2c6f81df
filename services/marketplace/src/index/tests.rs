//! The ways a page is collected agree: skipping what cannot make the page (block-max
//! pruning, or visiting the rarest word's matches) gives exactly the order of scoring every
//! match, page after page.

use time::OffsetDateTime;

use super::*;
use crate::seed::Generator;

fn catalogue(n: u64) -> (SearchIndex, PathBuf) {
    let dir = std::env::temp_dir().join(format!("agentidp-index-test-{}", Uuid::new_v4().simple()));
    let index = SearchIndex::open(&dir, "http://localhost").unwrap();
    let mut g = Generator::new(5, n, "localhost", OffsetDateTime::now_utc());
    let docs = (0..n)
        .map(|_| {
            let l = g.next_listing();
            let doc = fields::document(
                index.fields(),
                &fields::Source {
                    id: l.id,
                    name: &l.name,
                    description: &l.description,
                    agent_type: l.agent_type,
                    capabilities: &l.capabilities,
                    tags: &l.tags,
                    publisher: &l.publisher,
                    body: b"{}",
                },
            );
            (l.id, Some(doc))
        })
        .collect();
    index.stage(docs).unwrap();
    index.commit(1, 0).unwrap();
    (index, dir)
}

/// Every key of `q`, `limit` at a time, following the last key as the cursor.
fn paged(index: &SearchIndex, q: &str, limit: usize, by_words: bool) -> Vec<Key> {
    let snap = index.snapshot();
    let filter = SearchFilter {
        text: Some(q.into()),
        ..SearchFilter::default()
    };
    let plan = index.builder(&snap.searcher).unwrap().plan(&filter, None);
    let mut out: Vec<Key> = Vec::new();
    loop {
        let after = out.last().copied();
        let page = SearchIndex::run(&snap.searcher, &plan, after, limit, by_words).unwrap();
        let n = page.len();
        out.extend(page.into_iter().map(|(k, _)| k));
        if n < limit || out.len() > 400 {
            return out;
        }
    }
}

#[test]
fn pruned_pages_are_the_pages_of_scoring_every_match() {
    let (index, dir) = catalogue(3_000);
    for q in [
        "invoice",
        "invoice extractor",
        "report approver acme",
        "deployment summarizer pro",
        "invoice or receipt",
        "contract -finance",
        "invioce extractr",
        "summ",
    ] {
        let every = paged(&index, q, 1_000, true);
        assert!(!every.is_empty(), "{q}: no match");
        for limit in [1, 7, 20] {
            let pruned = paged(&index, q, limit, false);
            let n = pruned.len().min(every.len());
            assert_eq!(pruned[..n], every[..n], "{q}, {limit} a page");
        }
    }
    drop(index);
    let _ = std::fs::remove_dir_all(dir);
}
