//! Checking cached responses against the listings a poll found changed.

use std::cmp::Ordering as Order;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use uuid::Uuid;

use super::{Entry, MAX_CHANGES, MAX_MATCHES, ResponseCache};
use crate::listing::Listing;
use crate::repo::versions::PageRange;
use crate::search::filter::{After, SearchFilter};

/// A listing written by a change the instance has just applied.
#[derive(Debug, Clone, Copy)]
pub struct Changed<'a> {
    /// The listing as written.
    pub listing: &'a Listing,
    /// Whether it is shown now.
    pub visible: bool,
    /// The version that wrote it.
    pub version: i64,
}

/// What the instance applied in one poll: the listings written by versions in `(from, to]`.
#[derive(Debug, Clone, Copy)]
pub struct Applied<'a> {
    /// The version applied before.
    pub from: i64,
    /// The version applied now.
    pub to: i64,
    /// Rows were removed outright (rebuild, purge): every entry goes.
    pub reset: bool,
    /// The listings written; `None` when there were too many to keep.
    pub changed: Option<&'a [Changed<'a>]>,
}

/// Ranks listings for a text search: the sort keys, in the current index, of those of `ids`
/// that `filter` selects.
pub type Rank<'a> = dyn Fn(&SearchFilter, &[Uuid]) -> anyhow::Result<Vec<After>> + 'a;

/// Whether `key` sorts strictly after `a` in the result order (comes later).
fn later(key: &After, a: &After) -> bool {
    match (key, a) {
        (After::Ranked { score, id }, After::Ranked { score: s, id: i }) => {
            score.total_cmp(s).then(id.cmp(i)) == Order::Less
        }
        (
            After::Recent { created_at, id },
            After::Recent {
                created_at: c,
                id: i,
            },
        ) => (created_at, id) < (c, i),
        _ => false,
    }
}

/// Whether `key` falls within the part of the order `range` covers.
fn within(key: &After, range: &PageRange) -> bool {
    range.after.as_ref().is_none_or(|a| later(key, a))
        && range.last.as_ref().is_none_or(|l| later(l, key))
}

/// Whether `filter`'s filters (its text aside) select `l`.
fn selects(filter: &SearchFilter, l: &Listing) -> bool {
    filter.agent_type.is_none_or(|t| t.as_str() == l.agent_type)
        && filter
            .capability
            .as_ref()
            .is_none_or(|c| l.capabilities.iter().any(|x| x == c.as_str()))
        && filter
            .tag
            .as_ref()
            .is_none_or(|t| l.tags.iter().any(|x| x.eq_ignore_ascii_case(t.as_str())))
        && filter
            .publisher
            .as_ref()
            .is_none_or(|p| l.publisher.to_lowercase() == *p)
}

impl<B> ResponseCache<B> {
    /// The instance looked for changes and found none it had not applied.
    pub fn checked(&self) {
        let mut s = self.lock();
        s.checked = Some(Instant::now());
    }

    /// Drops the entries that `applied` may affect; the others become exact for its version.
    /// `rank` places changed listings in a text search's order.
    pub fn apply(&self, applied: &Applied<'_>, rank: &Rank<'_>) -> anyhow::Result<()> {
        let entries: Vec<Entry<B>> = {
            let s = self.lock();
            s.slots
                .iter()
                .filter_map(|(k, slot)| {
                    let e = slot.cell.get().filter(|e| e.as_of() < applied.to)?;
                    Some((k.clone(), slot.filter.clone(), slot.cell.clone(), e.clone()))
                })
                .collect()
        };
        let changed = applied.changed.filter(|c| {
            let visible = c.iter().filter(|ch| ch.visible).count();
            !applied.reset
                && c.len() as i64 <= MAX_CHANGES
                && entries.len() * visible <= MAX_MATCHES
        });
        let Some(changed) = changed else {
            let mut s = self.lock();
            self.clear(&mut s);
            s.checked = Some(Instant::now());
            self.entries.set(0.0);
            return Ok(());
        };
        let mut stale = HashSet::new();
        for (i, (_, filter, _, e)) in entries.iter().enumerate() {
            let as_of = e.as_of();
            let news: Vec<&Changed<'_>> = changed.iter().filter(|c| c.version > as_of).collect();
            // Written by a version it never saw: it missed a change.
            let missed = as_of < applied.from;
            let shown = || news.iter().any(|c| e.ids.contains(&c.listing.id));
            if missed || shown() {
                stale.insert(i);
                continue;
            }
            let candidates: Vec<&Listing> = news
                .iter()
                .filter(|c| c.visible && selects(filter, c.listing))
                .map(|c| c.listing)
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let keys: Vec<After> = if filter.text.is_some() {
                let ids: Vec<Uuid> = candidates.iter().map(|l| l.id).collect();
                rank(filter, &ids)?
            } else {
                candidates
                    .iter()
                    .map(|l| After::Recent {
                        created_at: l.created_at,
                        id: l.id,
                    })
                    .collect()
            };
            if keys.iter().any(|k| within(k, &e.range)) {
                stale.insert(i);
            }
        }
        let mut s = self.lock();
        for (i, (key, _, cell, entry)) in entries.iter().enumerate() {
            // A slot made since the entries were taken is not the one checked.
            let same = s.slots.get(key).is_some_and(|x| Arc::ptr_eq(&x.cell, cell));
            if !same {
                continue;
            }
            if stale.contains(&i) {
                s.slots.remove(key);
                self.dropped.increment(1);
            } else {
                entry.as_of.fetch_max(applied.to, Ordering::Relaxed);
            }
        }
        s.checked = Some(Instant::now());
        self.entries.set(s.slots.len() as f64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(score: f32, id: u128) -> After {
        After::Ranked {
            score,
            id: Uuid::from_u128(id),
        }
    }

    #[test]
    fn a_key_is_within_a_range_between_its_cursor_and_its_last_row() {
        let range = PageRange {
            after: Some(ranked(5.0, 1)),
            last: Some(ranked(2.0, 1)),
        };
        assert!(within(&ranked(3.0, 9), &range));
        assert!(within(&ranked(5.0, 0), &range));
        assert!(!within(&ranked(5.0, 1), &range));
        assert!(!within(&ranked(6.0, 0), &range));
        assert!(!within(&ranked(2.0, 0), &range));
        assert!(within(&ranked(2.0, 2), &range));
        assert!(within(&ranked(0.5, 0), &PageRange::default()));
    }
}
