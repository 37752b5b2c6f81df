//! Writing revocations: PostgreSQL (`token_revocations`) in the caller's transaction, then
//! Redis (`revoked:*`, read by every service's verifier) after the commit.
//!
//! Cut-offs of agents and credentials lie `margin` in the future: another instance may still
//! issue a token from its credential cache for up to `CREDENTIAL_CACHE_TTL_MS` after a
//! suspension, and such a token must be born revoked. Reactivation lowers the cut-off to the
//! moment of reactivation.
//!
//! Redis loses everything on restart: a task checks every second for the `revoked:_loaded`
//! marker and, when it is missing, reloads every revocation in force from PostgreSQL. Until
//! then verifiers see no marker and ask PostgreSQL ([`DbFallback`]). A failed publish removes
//! the marker, which forces the same path.

use std::time::Duration;

use platform::auth::{self, BoxFuture, Claims, RevocationFallback};
use platform::db::{Db, GenericClient};
use platform::redis::{Redis, redis};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::repo::revocations::Kind;
use crate::repo::revocations::{self as repo, Revocation};

/// Writes revocations.
#[derive(Clone, Debug)]
pub struct Revocations {
    redis: Redis,
    token_ttl: Duration,
    margin: Duration,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

impl Revocations {
    /// `margin`: how far in the future agent and credential cut-offs lie.
    pub fn new(redis: Redis, token_ttl: Duration, margin: Duration) -> Self {
        Self {
            redis,
            token_ttl,
            margin,
        }
    }

    /// Records in `tx` that every token of an agent or credential issued until now (plus the
    /// margin) is revoked; publish the result after commit.
    pub async fn revoke_all(
        &self,
        tx: &impl GenericClient,
        kind: Kind,
        subject: &str,
        tenant: Option<Uuid>,
    ) -> Result<Revocation, tokio_postgres::Error> {
        let cutoff = OffsetDateTime::now_utc() + self.margin;
        repo::upsert(
            tx,
            &Revocation {
                kind,
                subject: subject.into(),
                tenant_id: tenant,
                revoked_at: cutoff,
                expires_at: cutoff + self.token_ttl,
            },
        )
        .await
    }

    /// Records in `tx` that one token is revoked until it expires.
    pub async fn revoke_token(
        &self,
        tx: &impl GenericClient,
        jti: &str,
        tenant: Option<Uuid>,
        expires_at: OffsetDateTime,
    ) -> Result<Revocation, tokio_postgres::Error> {
        repo::upsert(
            tx,
            &Revocation {
                kind: Kind::Token,
                subject: jti.into(),
                tenant_id: tenant,
                revoked_at: OffsetDateTime::now_utc(),
                expires_at,
            },
        )
        .await
    }

    /// Records in `tx` that an agent was reactivated: its cut-off drops to now.
    pub async fn reactivate(
        &self,
        tx: &impl GenericClient,
        agent: Uuid,
    ) -> Result<Option<Revocation>, tokio_postgres::Error> {
        repo::lower_cutoff(
            tx,
            Kind::Agent,
            &agent.to_string(),
            OffsetDateTime::now_utc(),
        )
        .await
    }

    fn key_of(&self, r: &Revocation) -> String {
        match r.kind {
            Kind::Token => auth::keys::jti(&self.redis, &r.subject),
            Kind::Agent => auth::keys::sub(&self.redis, &r.subject),
            Kind::Client => auth::keys::client(&self.redis, &r.subject),
        }
    }

    /// Mirrors committed revocations into Redis.
    pub async fn publish(&self, revs: &[Revocation]) {
        if revs.is_empty() {
            return;
        }
        let now = OffsetDateTime::now_utc();
        let mut pipe = redis::pipe();
        for r in revs {
            let ttl_ms = (r.expires_at - now).whole_milliseconds().max(1) as u64;
            pipe.cmd("SET")
                .arg(self.key_of(r))
                .arg(ms(r.revoked_at))
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        let result = self
            .redis
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not mirror revocations to redis; verifiers fall back to PostgreSQL");
            let marker = auth::keys::loaded(&self.redis);
            let _ = self
                .redis
                .run(|mut c| async move {
                    redis::cmd("DEL")
                        .arg(marker)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
        }
    }

    /// Reloads Redis from PostgreSQL when the marker is missing.
    pub async fn rebuild_if_empty(&self, db: &Db) -> anyhow::Result<bool> {
        let marker = auth::keys::loaded(&self.redis);
        let m = marker.clone();
        let present: bool = self
            .redis
            .run(|mut c| async move {
                redis::cmd("EXISTS")
                    .arg(m)
                    .query_async::<bool>(&mut c)
                    .await
            })
            .await?;
        if present {
            return Ok(false);
        }
        let client = db.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let revs = repo::active(&client).await?;
        drop(client);
        let now = OffsetDateTime::now_utc();
        let mut pipe = redis::pipe();
        for r in &revs {
            let ttl_ms = (r.expires_at - now).whole_milliseconds().max(1) as u64;
            pipe.cmd("SET")
                .arg(self.key_of(r))
                .arg(ms(r.revoked_at))
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        pipe.cmd("SET").arg(&marker).arg(1).ignore();
        self.redis
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await?;
        tracing::info!(revocations = revs.len(), "revocations loaded into redis");
        Ok(true)
    }

    /// Checks the marker every second until `stop`; also drops expired rows hourly.
    pub fn spawn_upkeep(&self, db: Db, stop: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if let Err(e) = this.rebuild_if_empty(&db).await {
                    tracing::debug!(error = %e, "revocation rebuild check failed");
                }
                n += 1;
                if n.is_multiple_of(3600)
                    && let Ok(c) = db.get().await
                    && let Err(e) = repo::delete_expired(&c).await
                {
                    tracing::warn!(error = %e, "could not delete expired revocations");
                }
            }
        });
    }
}

/// Answers revocation questions from PostgreSQL when Redis cannot.
#[derive(Debug, Clone)]
pub struct DbFallback(pub Db);

impl RevocationFallback for DbFallback {
    fn is_revoked<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            let c = self.0.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let issued = OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(claims.issued_at_ms()) * 1_000_000,
            )?;
            Ok(repo::covers(&c, &claims.jti, &claims.sub, &claims.client_id, issued).await?)
        })
    }
}
