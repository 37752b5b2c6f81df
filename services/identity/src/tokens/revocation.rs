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
//! then verifiers see no marker and ask PostgreSQL ([`DbFallback`]).
//!
//! A publication that fails (Redis down or slow) is never lost: the instance remembers the
//! oldest cut-off it could not mirror, records it in PostgreSQL (`revocation_mirror`, so
//! another instance repairs it should this one stop), and tries to remove the marker. Once
//! Redis answers again (the upkeep asks every [`RETRY`] while it owes a repair, and every
//! reconnection wakes it), every revocation changed since then is mirrored again, read back
//! from PostgreSQL until nothing changed under the repair. Every instance also looks for a
//! recorded repair at start, on each reconnection and every minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use platform::auth::{self, BoxFuture, Claims, RevocationFallback};
use platform::db::{Db, GenericClient};
use platform::redis::{Redis, RedisFailure, redis};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::repo::revocations::Kind;
use crate::repo::revocations::{self as repo, Revocation};

/// How often an instance that owes Redis a repair asks whether Redis answers again.
pub const RETRY: Duration = Duration::from_millis(200);

/// Subtracted from a failed publication's cut-off before it is remembered: rows of the
/// same moment are mirrored again too.
const SLACK: time::Duration = time::Duration::seconds(1);

/// Rounds of reading back and mirroring again before a repair counts as settled.
const SETTLE_ROUNDS: usize = 3;

/// Writes revocations.
#[derive(Clone, Debug)]
pub struct Revocations {
    redis: Redis,
    token_ttl: Duration,
    margin: Duration,
    repair: Arc<Repair>,
}

/// What this instance owes Redis.
#[derive(Debug, Default)]
struct Repair {
    /// The oldest cut-off of a failed publication not yet mirrored again.
    since: Mutex<Option<OffsetDateTime>>,
    /// Where failures are recorded for every instance (set by the upkeep).
    db: OnceLock<Db>,
}

impl Repair {
    fn owe(&self, since: OffsetDateTime) {
        let mut s = self.since.lock().unwrap_or_else(PoisonError::into_inner);
        *s = Some(s.map_or(since, |old| old.min(since)));
    }

    fn take(&self) -> Option<OffsetDateTime> {
        self.since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn owed(&self) -> bool {
        self.since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
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
            repair: Arc::default(),
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

    /// A pipeline writing `revs`, each expiring with the last token it covers.
    fn pipeline(&self, revs: &[Revocation]) -> redis::Pipeline {
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
        pipe
    }

    /// Writes `revs` to Redis.
    async fn mirror(&self, revs: &[Revocation]) -> Result<(), RedisFailure> {
        let pipe = self.pipeline(revs);
        self.redis
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// Mirrors committed revocations into Redis; when that fails, remembers (here and in
    /// PostgreSQL) to mirror them again once Redis answers.
    pub async fn publish(&self, revs: &[Revocation]) {
        if revs.is_empty() {
            return;
        }
        if let Err(e) = self.mirror(revs).await {
            tracing::warn!(error = %e, "could not mirror revocations to redis; they are mirrored again once it answers");
            let now = OffsetDateTime::now_utc();
            let since = revs
                .iter()
                .map(|r| r.revoked_at)
                .fold(now, OffsetDateTime::min)
                - SLACK;
            self.repair.owe(since);
            if let Some(db) = self.repair.db.get() {
                let recorded = match db.get().await {
                    Ok(c) => repo::mark_mirror_dirty(&c, since)
                        .await
                        .map_err(anyhow::Error::from),
                    Err(e) => Err(anyhow::anyhow!("{e}")),
                };
                if let Err(e) = recorded {
                    tracing::warn!(error = %e, "could not record the revocations redis lacks; this instance still owes them");
                }
            }
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
        let mut pipe = self.pipeline(&revs);
        pipe.cmd("SET").arg(&marker).arg(1).ignore();
        self.redis
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await?;
        tracing::info!(revocations = revs.len(), "revocations loaded into redis");
        Ok(true)
    }

    /// Mirrors again every revocation changed since the oldest failed publication this
    /// instance owes or any instance recorded, reading them back from PostgreSQL until
    /// none changed under the repair; then forgets the debt. Returns how many were written.
    /// A debt this instance cannot repay yet becomes its own: it asks Redis every [`RETRY`].
    pub async fn repair(&self, db: &Db) -> anyhow::Result<usize> {
        let mut since = self.repair.take();
        let result = self.repair_from(db, &mut since).await;
        if result.is_err()
            && let Some(since) = since
        {
            self.repair.owe(since);
        }
        result
    }

    async fn repair_from(
        &self,
        db: &Db,
        owed: &mut Option<OffsetDateTime>,
    ) -> anyhow::Result<usize> {
        let c = db.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let recorded = repo::mirror_dirty(&c).await?;
        *owed = (*owed).into_iter().chain(recorded.map(|r| r.0)).min();
        let Some(since) = *owed else {
            return Ok(0);
        };
        let mut written: HashMap<(&'static str, String), Revocation> = HashMap::new();
        for _ in 0..SETTLE_ROUNDS {
            let fresh: Vec<Revocation> = repo::changed_since(&c, since)
                .await?
                .into_iter()
                .filter(|r| written.get(&(r.kind.as_str(), r.subject.clone())) != Some(r))
                .collect();
            if fresh.is_empty() {
                if let Some((_, version)) = recorded {
                    repo::clear_mirror_dirty(&c, version).await?;
                }
                if !written.is_empty() {
                    tracing::info!(
                        revocations = written.len(),
                        "revocations mirrored to redis again"
                    );
                }
                return Ok(written.len());
            }
            self.mirror(&fresh).await?;
            for r in fresh {
                written.insert((r.kind.as_str(), r.subject.clone()), r);
            }
        }
        anyhow::bail!("revocations kept changing while they were mirrored again")
    }

    /// Records in `db` the repairs this writer owes (a process without upkeep, such as a
    /// command-line tool: the running instances pick the record up and repair).
    pub fn recording_repairs_in(self, db: &Db) -> Self {
        let _ = self.repair.db.set(db.clone());
        self
    }

    /// Until `stop`: checks the marker every second, repairs what failed to reach Redis (see
    /// the module documentation), and drops expired rows hourly.
    pub fn spawn_upkeep(&self, db: Db, stop: CancellationToken) {
        let _ = self.repair.db.set(db.clone());
        let this = self.clone();
        let mut connections = self.redis.connections();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n: u64 = 0;
            // Look for repairs recorded by any instance: at start, on reconnection, every minute.
            let mut look = true;
            loop {
                let owed = this.repair.owed();
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(e) = this.rebuild_if_empty(&db).await {
                            tracing::debug!(error = %e, "revocation rebuild check failed");
                        }
                        n += 1;
                        look |= n.is_multiple_of(60);
                        if n.is_multiple_of(3600)
                            && let Ok(c) = db.get().await
                            && let Err(e) = repo::delete_expired(&c).await
                        {
                            tracing::warn!(error = %e, "could not delete expired revocations");
                        }
                    }
                    Ok(()) = connections.changed() => look = true,
                    // Asks Redis even before a reconnection is due: the debt is repaid as
                    // soon as Redis answers.
                    () = tokio::time::sleep(RETRY), if owed => look |= this.redis.ping().await.is_ok(),
                }
                if std::mem::take(&mut look)
                    && let Err(e) = this.repair(&db).await
                {
                    tracing::debug!(error = %e, "revocations not mirrored again yet");
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
            Ok(repo::covers(&c, &auth::revocation_query(claims), issued).await?)
        })
    }
}
