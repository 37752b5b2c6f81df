//! The key ring every instance signs with.
//!
//! Keys live in PostgreSQL, private parts sealed with `KEY_ENCRYPTION_KEY`. Which key signs is
//! a function of time alone: the key with the latest `activates_at` not in the future. So all
//! instances agree without talking to each other, as long as each has loaded the key before
//! it activates: new keys are created `SIGNING_KEY_PUBLISH_LEAD_SECS` ahead (and published in
//! the JWKS from then on), while instances reload every `KEY_REFRESH_INTERVAL_MS`, at most
//! half the lead. A key leaves the JWKS once its successor has been active for longer than
//! the token lifetime plus a minute of clock slack.
//!
//! Rotation is scheduled: any instance may find the newest key due for a successor and create
//! it under an advisory lock, re-checking inside the lock, so exactly one successor appears.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use platform::db::Db;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::change::{begin, commit, created};
use super::import::import_pem_pair;
use super::signer::{Alg, SigningKey, generate_pkcs8};
use crate::audit::change::Change;
use crate::config::KeyConfig;
use crate::crypto::Kek;
use crate::repo::keys::{self as repo, KeyRow};

/// Slack for clocks and in-flight requests before a retired key leaves the JWKS.
const UNPUBLISH_SLACK: Duration = Duration::from_secs(60);

/// The loaded keys at one moment.
#[derive(Debug)]
pub struct KeySet {
    /// Oldest activation first.
    keys: Vec<Arc<SigningKey>>,
    token_ttl: Duration,
}

impl KeySet {
    /// The key that signs at `now`.
    pub fn active(&self, now: OffsetDateTime) -> Option<&Arc<SigningKey>> {
        self.keys.iter().rev().find(|k| k.activates_at <= now)
    }

    /// Keys a verifier may meet at `now`: pending keys, the active one, and retired keys
    /// whose tokens may still be valid.
    pub fn published(&self, now: OffsetDateTime) -> impl Iterator<Item = &Arc<SigningKey>> {
        let horizon = self.token_ttl + UNPUBLISH_SLACK;
        self.keys.iter().enumerate().filter_map(move |(i, k)| {
            let retired_at = self.keys.get(i + 1).map(|next| next.activates_at);
            match retired_at {
                Some(t) if t <= now && now - t > horizon => None,
                _ => Some(k),
            }
        })
    }

    /// The JWKS document at `now`.
    pub fn jwks(&self, now: OffsetDateTime) -> serde_json::Value {
        serde_json::json!({
            "keys": self.published(now).map(|k| k.public_jwk.clone()).collect::<Vec<_>>()
        })
    }

    /// The most recently scheduled key (published, possibly not signing yet).
    pub fn newest(&self) -> Option<&Arc<SigningKey>> {
        self.keys.last()
    }

    /// Every loaded key.
    pub fn all(&self) -> &[Arc<SigningKey>] {
        &self.keys
    }
}

struct Inner {
    db: Db,
    kek: Kek,
    cfg: KeyConfig,
    token_ttl: Duration,
    set: RwLock<Arc<KeySet>>,
}

/// Shared handle to the current key set.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("set", &self.current())
            .finish()
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn create_key(
    change: &mut Change<'_>,
    kek: &Kek,
    alg: Alg,
    activates_at: OffsetDateTime,
) -> anyhow::Result<String> {
    let der = generate_pkcs8(alg)?;
    let key = SigningKey::from_der(alg, &der, activates_at)?;
    let row = KeyRow {
        kid: key.kid.clone(),
        alg: alg.as_str().to_owned(),
        private_key_enc: kek.seal(key.kid.as_bytes(), &der)?,
        source: "generated".into(),
        activates_at,
    };
    repo::insert(change.tx(), &row, &key.public_jwk).await?;
    change.event(created(&row));
    Ok(key.kid)
}

/// What a rotation check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Nothing was due.
    NotDue,
    /// A key was created.
    Created {
        /// Its kid.
        kid: String,
        /// When it starts signing.
        activates_at: OffsetDateTime,
    },
}

/// Creates the first key (active at once) or a scheduled successor when one is due.
async fn rotate_if_due(db: &Db, kek: &Kek, cfg: &KeyConfig) -> anyhow::Result<Rotation> {
    let mut change = begin(db).await?;
    repo::lock(change.tx()).await?;
    let t = now();
    let activates_at = match repo::newest_activation(change.tx()).await? {
        None => t,
        Some(newest) => {
            if newest + cfg.rotation_interval - cfg.publish_lead > t {
                return Ok(Rotation::NotDue);
            }
            (newest + cfg.rotation_interval).max(t + cfg.publish_lead)
        }
    };
    let kid = create_key(&mut change, kek, cfg.alg, activates_at).await?;
    commit(change).await?;
    tracing::info!(kid, alg = %cfg.alg, activates_at = %activates_at, "signing key created");
    Ok(Rotation::Created { kid, activates_at })
}

/// `identity rotate-signing-key`: schedules a new key `publish_lead` from now, unless a key
/// is already pending. Returns the pending key's kid and activation.
pub async fn rotate_now(
    db: &Db,
    kek: &Kek,
    cfg: &KeyConfig,
) -> anyhow::Result<(String, OffsetDateTime)> {
    let mut change = begin(db).await?;
    repo::lock(change.tx()).await?;
    let t = now();
    if let Some(pending) = repo::list(change.tx())
        .await?
        .into_iter()
        .rev()
        .find(|k| k.activates_at > t)
    {
        return Ok((pending.kid, pending.activates_at));
    }
    let activates_at = t + cfg.publish_lead;
    let kid = create_key(&mut change, kek, cfg.alg, activates_at).await?;
    commit(change).await?;
    Ok((kid, activates_at))
}

impl KeyRing {
    /// Imports configured keys, makes sure a key exists, loads the set and keeps it fresh
    /// (and rotated) until `stop` is cancelled.
    pub async fn start(
        db: Db,
        kek: Kek,
        cfg: KeyConfig,
        token_ttl: Duration,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        if let Some((private, public)) = &cfg.import {
            import_pem_pair(&db, &kek, private.expose(), public).await?;
        }
        rotate_if_due(&db, &kek, &cfg).await?;
        let ring = Self {
            inner: Arc::new(Inner {
                db,
                kek,
                cfg,
                token_ttl,
                set: RwLock::new(Arc::new(KeySet {
                    keys: Vec::new(),
                    token_ttl,
                })),
            }),
        };
        ring.reload().await?;
        ring.spawn_refresh(stop);
        Ok(ring)
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        self.inner
            .set
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The key to sign with now.
    pub fn signing_key(&self) -> Option<Arc<SigningKey>> {
        self.current().active(now()).cloned()
    }

    /// Reloads every key from PostgreSQL, reusing keys already parsed.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let client = self
            .inner
            .db
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let rows = repo::list(&client).await?;
        let old = self.current();
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(k) = old.keys.iter().find(|k| k.kid == row.kid) {
                keys.push(k.clone());
                continue;
            }
            let alg: Alg = row
                .alg
                .parse()
                .map_err(|()| anyhow::anyhow!("unknown algorithm {}", row.alg))?;
            let der = self
                .inner
                .kek
                .open(row.kid.as_bytes(), &row.private_key_enc)?;
            let key = SigningKey::from_der(alg, &der, row.activates_at)?;
            anyhow::ensure!(
                key.kid == row.kid,
                "stored key {} does not match its kid",
                row.kid
            );
            keys.push(Arc::new(key));
        }
        *self
            .inner
            .set
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(KeySet {
            keys,
            token_ttl: self.inner.token_ttl,
        });
        Ok(())
    }

    fn spawn_refresh(&self, stop: CancellationToken) {
        let ring = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ring.inner.cfg.refresh_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if let Err(e) =
                    rotate_if_due(&ring.inner.db, &ring.inner.kek, &ring.inner.cfg).await
                {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "signing key rotation check failed"
                    );
                }
                if let Err(e) = ring.reload().await {
                    tracing::warn!(error = format!("{e:#}"), "could not reload signing keys");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration as TD;

    fn key(at: OffsetDateTime) -> Arc<SigningKey> {
        let der = generate_pkcs8(Alg::Es256).unwrap();
        Arc::new(SigningKey::from_der(Alg::Es256, &der, at).unwrap())
    }

    #[test]
    fn active_and_published_follow_time() {
        let t0 = OffsetDateTime::now_utc();
        let (a, b, c) = (key(t0), key(t0 + TD::hours(10)), key(t0 + TD::hours(20)));
        let set = KeySet {
            keys: vec![a.clone(), b.clone(), c.clone()],
            token_ttl: Duration::from_secs(3600),
        };
        assert_eq!(set.active(t0 + TD::hours(1)).unwrap().kid, a.kid);
        assert_eq!(set.active(t0 + TD::hours(10)).unwrap().kid, b.kid);
        // Before b activates, all three are published (c is pending).
        assert_eq!(set.published(t0 + TD::hours(5)).count(), 3);
        // a stays published for the token lifetime plus slack after b took over.
        assert_eq!(set.published(t0 + TD::hours(11)).count(), 3);
        let later: Vec<_> = set
            .published(t0 + TD::hours(12))
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(later, vec![b.kid.clone(), c.kid.clone()]);
        assert!(set.active(t0 - TD::hours(1)).is_none());
    }
}
