//! Checking cached responses against changed listings.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use platform::db::{Db, GenericClient};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Entry, MAX_CHANGES, MAX_MATCHES, ResponseCache};
use crate::repo::versions;

impl<B: Send + Sync + 'static> ResponseCache<B> {
    /// Drops the entries that changes since their version may affect; the others become
    /// exact for the current version.
    pub async fn check(&self, db: &Db) -> anyhow::Result<()> {
        let c = db.pool().get().await?;
        let (version, reset) = versions::current(&c).await?;
        let entries: Vec<Entry<B>> = {
            let mut s = self.lock();
            if reset > s.known || version < s.known {
                self.clear(&mut s);
            }
            s.slots
                .iter()
                .filter_map(|(k, slot)| {
                    let e = slot.cell.get().filter(|e| e.as_of() < version)?;
                    Some((k.clone(), slot.filter.clone(), slot.cell.clone(), e.clone()))
                })
                .collect()
        };
        if let Some(lower) = entries.iter().map(|e| e.3.as_of()).min() {
            let changed = versions::changed(&c, lower, version, MAX_CHANGES + 1).await?;
            let visible = changed.iter().filter(|ch| ch.visible).count();
            if changed.len() as i64 > MAX_CHANGES || entries.len() * visible > MAX_MATCHES {
                self.clear(&mut self.lock());
            } else {
                let stale = self.affected(&c, &entries, &changed, version).await?;
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
                        entry.as_of.fetch_max(version, Ordering::Relaxed);
                    }
                }
            }
        }
        let mut s = self.lock();
        s.known = version;
        s.checked = Some(Instant::now());
        self.entries.set(s.slots.len() as f64);
        Ok(())
    }

    /// Indexes of `entries` that the `changed` listings affect.
    async fn affected(
        &self,
        c: &impl GenericClient,
        entries: &[Entry<B>],
        changed: &[versions::Change],
        version: i64,
    ) -> anyhow::Result<HashSet<usize>> {
        let at: HashMap<Uuid, i64> = changed.iter().map(|ch| (ch.id, ch.version)).collect();
        let mut stale = HashSet::new();
        let mut to_match = Vec::new();
        for (i, (_, filter, _, e)) in entries.iter().enumerate() {
            let as_of = e.as_of();
            if e.ids
                .iter()
                .any(|id| at.get(id).is_some_and(|v| *v > as_of))
            {
                stale.insert(i);
            } else if changed.iter().any(|ch| ch.visible && ch.version > as_of) {
                to_match.push((i, filter, &e.range, as_of));
            }
        }
        if !to_match.is_empty() {
            let filters: Vec<versions::Watch<'_>> = to_match
                .iter()
                .map(|(_, filter, range, since)| versions::Watch {
                    filter,
                    range,
                    since: *since,
                })
                .collect();
            for k in versions::matching(c, version, &filters).await? {
                stale.extend(to_match.get(k).map(|(i, _, _, _)| *i));
            }
        }
        Ok(stale)
    }

    /// Runs [`ResponseCache::check`] every `every` until `stop` is cancelled.
    pub fn spawn_checks(self: Arc<Self>, db: Db, every: Duration, stop: CancellationToken) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let started = Instant::now();
                let checked = self.check(&db).await;
                self.check_time.record(started.elapsed().as_secs_f64());
                match checked {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("response cache: checking for changed listings again");
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %format!("{e:#}"), "response cache: cannot check for changed listings; serving from the database");
                    }
                    Err(_) => {}
                }
            }
        });
    }
}
