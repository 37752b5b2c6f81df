//! What is published about the signing keys: the JWKS, the algorithms in use, the
//! deployment's DID document (the keys as verification methods), and the inventory other
//! services read.

use std::time::Duration;

use domain::audit::{SigningKeyInfo, SigningKeys};
use platform::ApiError;
use platform::db::Db;
use reqwest::Url;
use time::OffsetDateTime;

use super::ring::KeyRing;
use crate::did;
use crate::repo::keys as repo;

/// Answers questions about the published keys.
#[derive(Debug, Clone)]
pub struct KeyDirectory {
    ring: KeyRing,
    db: Db,
    rotation_interval: Duration,
    public_url: Url,
}

impl KeyDirectory {
    /// The directory of `ring`'s keys, stored in `db`, rotated every `rotation_interval`,
    /// of the deployment at `public_url`.
    pub fn new(ring: KeyRing, db: Db, rotation_interval: Duration, public_url: Url) -> Self {
        Self {
            ring,
            db,
            rotation_interval,
            public_url,
        }
    }

    /// The issuer of tokens and checkpoints: `PUBLIC_URL` without a trailing slash.
    pub fn issuer(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    /// The JWKS: pending, active and still-relevant retired keys.
    pub fn jwks(&self) -> serde_json::Value {
        self.ring.current().jwks(OffsetDateTime::now_utc())
    }

    /// The deployment's DID document, with the published keys.
    pub fn did_document(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .ring
            .current()
            .published(OffsetDateTime::now_utc())
            .map(|k| k.public_jwk.clone())
            .collect();
        did::document(&did::instance_did(&self.public_url), &keys)
    }

    /// The algorithms of every loaded key, sorted, without repeats.
    pub fn algs(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self
            .ring
            .current()
            .all()
            .iter()
            .map(|k| k.alg.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The published keys (no private parts), newest first, and the rotation interval.
    pub async fn inventory(&self) -> Result<SigningKeys, ApiError> {
        let now = OffsetDateTime::now_utc();
        let set = self.ring.current();
        let published: Vec<&str> = set.published(now).map(|k| k.kid.as_str()).collect();
        let active = set.active(now).map(|k| k.kid.clone());
        let c = self.db.get().await?;
        let keys = repo::inventory(&c)
            .await?
            .into_iter()
            .filter(|(kid, ..)| published.contains(&kid.as_str()))
            .map(|(kid, alg, source, created_at, activates_at)| {
                let status = if Some(&kid) == active.as_ref() {
                    "active"
                } else if activates_at > now {
                    "next"
                } else {
                    "retired"
                };
                SigningKeyInfo {
                    kid,
                    alg,
                    source,
                    created_at,
                    activates_at,
                    status: status.to_owned(),
                }
            })
            .collect();
        Ok(SigningKeys {
            keys,
            rotation_interval_secs: self.rotation_interval.as_secs(),
        })
    }
}
