//! One audited change: the unit of work of every state change.
//!
//! ```text
//! let mut change = changes.begin().await?;      // BEGIN on a pooled connection
//! repo::...(change.tx(), ...).await?;           // the change itself
//! change.revoke_all(Kind::Agent, ...).await?;   // revocations, recorded in the transaction
//! change.event(NewEvent::new(...));             // audit events
//! change.after_commit(Effect::InvalidateAgent(id));
//! change.commit().await?;                       // append events, COMMIT, then the effects
//! ```
//!
//! The events are appended (chained under their tenants' head locks) just before `COMMIT`, so
//! a change and its audit trail are stored together or not at all. Only after the commit
//! does this instance's credential cache forget what changed, and are the revocations
//! mirrored to Redis (where every service's verifier reads them): nothing is published that
//! could still roll back. A change dropped without [`Change::commit`] rolls back.

use platform::ApiError;
use platform::db::{Client, Db};
use time::OffsetDateTime;
use uuid::Uuid;

use super::event::NewEvent;
use crate::repo::audit::append;
use crate::repo::revocations::Revocation;
use crate::tokens::cache::CredentialCache;
use crate::tokens::revocation::{Kind, Revocations};

/// What a committed change does afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// This instance's credential cache forgets every credential of the agent.
    InvalidateAgent(Uuid),
    /// This instance's credential cache forgets the client.
    InvalidateClient(String),
    /// The revocation is mirrored to Redis.
    Publish(Revocation),
}

/// Starts changes whose effects reach the credential cache and the revocation store; cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct Changes {
    db: Db,
    cache: CredentialCache,
    revocations: Revocations,
}

impl Changes {
    /// Changes on `db` that act on `cache` and `revocations` after they commit.
    pub fn new(db: Db, cache: CredentialCache, revocations: Revocations) -> Self {
        Self {
            db,
            cache,
            revocations,
        }
    }

    /// The pool (for reads outside a change).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Opens a change.
    pub async fn begin(&self) -> Result<Change<'_>, ApiError> {
        let mut change = Change::begin(&self.db).await?;
        change.effects = Some(self);
        Ok(change)
    }
}

/// An open change: a transaction, the events to append and what to do after the commit.
#[derive(Debug)]
pub struct Change<'a> {
    client: Option<Client>,
    events: Vec<NewEvent>,
    after: Vec<Effect>,
    effects: Option<&'a Changes>,
}

impl Change<'static> {
    /// Opens a change whose only companions are audit events (no cache or revocation
    /// effects).
    pub async fn begin(db: &Db) -> Result<Self, ApiError> {
        let client = db.get().await?;
        client.batch_execute("BEGIN").await?;
        Ok(Self {
            client: Some(client),
            events: Vec::new(),
            after: Vec::new(),
            effects: None,
        })
    }
}

impl Change<'_> {
    /// The transaction, for the change's own statements.
    pub fn tx(&self) -> &Client {
        match &self.client {
            Some(c) => c,
            None => unreachable!("a change is consumed by its commit"),
        }
    }

    /// Appends `event` to the audit log with the change.
    pub fn event(&mut self, event: NewEvent) -> &mut Self {
        self.events.push(event);
        self
    }

    /// Runs `effect` once the change is committed.
    pub fn after_commit(&mut self, effect: Effect) -> &mut Self {
        self.after.push(effect);
        self
    }

    fn revocations(&self) -> Result<&Revocations, ApiError> {
        self.effects
            .map(|e| &e.revocations)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a change without effects revokes")))
    }

    /// Revokes every token of an agent or credential issued until now (plus the cache
    /// margin), and publishes that after the commit.
    pub async fn revoke_all(
        &mut self,
        kind: Kind,
        subject: &str,
        tenant: Option<Uuid>,
    ) -> Result<(), ApiError> {
        let r = self
            .revocations()?
            .revoke_all(self.tx(), kind, subject, tenant)
            .await?;
        self.after_commit(Effect::Publish(r));
        Ok(())
    }

    /// Revokes one token until it expires, and publishes that after the commit.
    pub async fn revoke_token(
        &mut self,
        jti: &str,
        tenant: Option<Uuid>,
        expires_at: OffsetDateTime,
    ) -> Result<(), ApiError> {
        let r = self
            .revocations()?
            .revoke_token(self.tx(), jti, tenant, expires_at)
            .await?;
        self.after_commit(Effect::Publish(r));
        Ok(())
    }

    /// Lowers a reactivated agent's cut-off to now, and publishes that after the commit.
    pub async fn reactivate(&mut self, agent: Uuid) -> Result<(), ApiError> {
        if let Some(r) = self.revocations()?.reactivate(self.tx(), agent).await? {
            self.after_commit(Effect::Publish(r));
        }
        Ok(())
    }

    /// Appends the events, commits, then runs the effects: cache invalidations first, then
    /// one publication of every revocation.
    pub async fn commit(mut self) -> Result<(), ApiError> {
        let effects = match (self.effects, self.after.is_empty()) {
            (Some(e), _) => Some(e),
            (None, true) => None,
            (None, false) => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "a change without effects has effects to run"
                )));
            }
        };
        let events = std::mem::take(&mut self.events);
        append(self.tx(), events).await?;
        self.tx().batch_execute("COMMIT").await?;
        // Back to the pool before the effects: the transaction is over.
        drop(self.client.take());
        let Some(effects) = effects else {
            return Ok(());
        };
        let mut published = Vec::new();
        for effect in std::mem::take(&mut self.after) {
            match effect {
                Effect::InvalidateAgent(agent) => effects.cache.invalidate_agent(agent),
                Effect::InvalidateClient(client_id) => effects.cache.invalidate_client(&client_id),
                Effect::Publish(r) => published.push(r),
            }
        }
        effects.revocations.publish(&published).await;
        Ok(())
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        // Roll back before the connection returns to the pool; a connection whose state is
        // unknown never does.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(deadpool_postgres::Object::take(client));
                    }
                });
            }
            Err(_) => drop(deadpool_postgres::Object::take(client)),
        }
    }
}
