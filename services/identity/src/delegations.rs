//! Standing delegations between agents (RFC 8693 §4.1 `act`): agent A lets agent B of the
//! same tenant act for it, within scopes, until a time, through chains of at most
//! `max_depth` actors. The exchange itself is a grant of the token endpoint
//! ([`crate::tokens::exchange`]).
//!
//! Who may grant: a caller holding `agents:write`, or the delegator agent itself (its own
//! token, not a delegated one); the scopes must be the delegator's capabilities and ones the
//! caller may give ([`crate::agents::privileges`]). Deleting a grant revokes every token
//! derived through it (a token revocation of `grant:<id>`, which every verifier checks for
//! delegated tokens), on every instance at once.

use domain::AgentStatus;
use domain::feed::actions::{DELEGATION_CREATED, DELEGATION_DELETED};
use platform::Failure;
use platform::auth::grant_revocation_subject;
use platform::errors::FieldError;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::agents::{Grantor, PrivilegeError};
use crate::audit::change::Changes;
use crate::audit::event::{NewEvent, format_time, micros};
use crate::repo::agents;
use crate::repo::delegations::{self as repo, DelegationRow};
use crate::tokens::exchange::MAX_LIFETIME;

/// Most standing delegations per delegator.
pub const MAX_PER_AGENT: i64 = 100;
/// Deepest chain a grant may allow.
pub const MAX_DEPTH: i32 = 5;

/// Body of `POST /api/v1/agents/{id}/delegations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    actor_agent_id: Uuid,
    scopes: Vec<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    max_depth: Option<i32>,
}

/// Why a delegation rule refused.
#[derive(Debug, thiserror::Error)]
pub enum DelegationError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// The caller may not give a scope (403).
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// The caller is neither the delegator nor holds `agents:write` (403).
    #[error("only the agent itself or a caller holding agents:write manages its delegations")]
    Forbidden,
    /// No such agent or delegation in the tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The delegator has [`MAX_PER_AGENT`] delegations (409).
    #[error("an agent may have at most {MAX_PER_AGENT} delegations")]
    LimitReached,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(DelegationError);

/// The API representation of a delegation.
pub fn to_json(d: &DelegationRow) -> Value {
    json!({
        "id": d.id,
        "agent_id": d.agent_id,
        "actor_agent_id": d.actor_agent_id,
        "scopes": d.scopes,
        "max_depth": d.max_depth,
        "expires_at": d.expires_at.map(format_time),
        "created_at": format_time(d.created_at),
    })
}

/// The tenants' standing delegations.
#[derive(Debug)]
pub struct Delegations {
    changes: Changes,
}

impl Delegations {
    /// Delegations changed through `changes` (deletions revoke derived tokens).
    pub fn new(changes: Changes) -> Self {
        Self { changes }
    }

    /// Grants `input` from agent `agent` of `tenant`.
    pub async fn create(
        &self,
        tenant: Uuid,
        grantor: &Grantor,
        may_write: bool,
        agent: Uuid,
        input: NewDelegation,
    ) -> Result<DelegationRow, DelegationError> {
        if !may_write && !grantor.is_agent(agent) {
            return Err(DelegationError::Forbidden);
        }
        let now = micros(OffsetDateTime::now_utc());
        let mut errors = Vec::new();
        let max_depth = input.max_depth.unwrap_or(1);
        if !(1..=MAX_DEPTH).contains(&max_depth) {
            errors.push(FieldError::new("max_depth", "must be 1 to 5"));
        }
        if input.expires_at.is_some_and(|t| t <= now) {
            errors.push(FieldError::new("expires_at", "must be in the future"));
        }
        if input.scopes.is_empty() || input.scopes.len() > 64 {
            errors.push(FieldError::new("scopes", "must hold 1 to 64 scopes"));
        }
        if input.actor_agent_id == agent {
            errors.push(FieldError::new("actor_agent_id", "must be another agent"));
        }
        if !errors.is_empty() {
            return Err(DelegationError::Invalid(errors));
        }
        let mut change = self.changes.begin().await?;
        let count = repo::lock_agent_and_count(change.tx(), agent).await?;
        let delegator = agents::get(change.tx(), tenant, agent, false)
            .await?
            .filter(|a| a.status != AgentStatus::Decommissioned)
            .ok_or(DelegationError::NotFound("agent"))?;
        let actor_ok = agents::get(change.tx(), tenant, input.actor_agent_id, false)
            .await?
            .is_some_and(|a| a.status != AgentStatus::Decommissioned);
        if !actor_ok {
            errors.push(FieldError::new(
                "actor_agent_id",
                "is not an agent of this tenant (or it is decommissioned)",
            ));
        }
        let caps = delegator.fields.capability_strs();
        let mut scopes: Vec<String> = Vec::new();
        for (i, s) in input.scopes.iter().enumerate() {
            if !caps.contains(&s.as_str()) {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "is not a capability of the delegating agent",
                ));
            } else if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        if !errors.is_empty() {
            return Err(DelegationError::Invalid(errors));
        }
        grantor.may_bind(scopes.iter().map(String::as_str))?;
        if count >= MAX_PER_AGENT {
            return Err(DelegationError::LimitReached);
        }
        let row = DelegationRow {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            agent_id: agent,
            actor_agent_id: input.actor_agent_id,
            scopes,
            max_depth,
            expires_at: input.expires_at.map(micros),
            created_at: now,
        };
        repo::insert(change.tx(), &row).await?;
        change.event(event(&grantor.actor, DELEGATION_CREATED, &row));
        change.commit().await?;
        Ok(row)
    }

    /// Up to `limit` of an agent's delegations after `after`, in creation order.
    pub async fn list(
        &self,
        tenant: Uuid,
        agent: Uuid,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<DelegationRow>, DelegationError> {
        let c = self.changes.db().get().await?;
        if agents::get(&c, tenant, agent, false).await?.is_none() {
            return Err(DelegationError::NotFound("agent"));
        }
        Ok(repo::list(&c, tenant, agent, after, limit).await?)
    }

    /// Withdraws a delegation: every token derived through it stops working at once.
    pub async fn delete(
        &self,
        tenant: Uuid,
        grantor: &Grantor,
        may_write: bool,
        agent: Uuid,
        id: Uuid,
    ) -> Result<(), DelegationError> {
        if !may_write && !grantor.is_agent(agent) {
            return Err(DelegationError::Forbidden);
        }
        let mut change = self.changes.begin().await?;
        let row = repo::get(change.tx(), tenant, agent, id, true)
            .await?
            .ok_or(DelegationError::NotFound("delegation"))?;
        repo::delete(change.tx(), id).await?;
        // Derived tokens live at most MAX_LIFETIME; the revocation outlives every one.
        let until = OffsetDateTime::now_utc() + time::Duration::seconds(MAX_LIFETIME + 60);
        change
            .revoke_token(
                &grant_revocation_subject(&id.to_string()),
                Some(tenant),
                until,
            )
            .await?;
        change.event(event(&grantor.actor, DELEGATION_DELETED, &row));
        change.commit().await?;
        Ok(())
    }
}

fn event(actor: &str, action: &'static str, d: &DelegationRow) -> NewEvent {
    NewEvent::new(
        d.tenant_id,
        actor,
        action,
        Some(format!("delegation:{}", d.id)),
    )
    .details(json!({ "delegation": to_json(d) }))
}
