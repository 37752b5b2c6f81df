//! Registering agents, changing their fields, and their lifecycle: each one audited change.

use domain::{AgentFields, AgentPatch, AgentStatus, NewAgent};
use serde_json::json;
use uuid::Uuid;

use super::error::AgentError;
use super::privileges::Grantor;
use super::service::Agents;
use super::view::event_details;
use crate::audit::change::Effect;
use crate::audit::event::NewEvent;
use crate::did;
use crate::repo::agents::{self as repo, AgentRow};
use crate::repo::clients;
use crate::tokens::revocation::Kind;

/// A lifecycle transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// active → suspended; tokens revoked.
    Suspend,
    /// suspended → active.
    Reactivate,
    /// any → decommissioned; tokens and credentials revoked.
    Decommission,
}

impl Agents {
    /// Registers an agent (with its DID key), within the tenant's tier, with capabilities
    /// the caller may give ([`Grantor::may_bind`]).
    pub async fn create(
        &self,
        tenant: Uuid,
        by: &Grantor,
        input: NewAgent,
    ) -> Result<AgentRow, AgentError> {
        let fields: AgentFields = input.validate()?;
        by.may_bind(fields.capability_strs())?;
        let actor = by.actor.as_str();
        let agent_limit = self.quota.agent_limit(tenant).await;
        let mut change = self.changes.begin().await?;
        if let Some((tier, max)) = agent_limit {
            // Counted under a lock on the tenant, so concurrent creations cannot overshoot.
            let live = repo::lock_tenant_and_count_live(change.tx(), tenant).await?;
            if live >= max as i64 {
                return Err(AgentError::QuotaExceeded { tier, max });
            }
        }
        let id = Uuid::now_v7();
        let row = repo::insert(change.tx(), tenant, id, &fields).await?;
        let (jwk, sealed) = did::new_agent_key(&self.kek, id)?;
        repo::insert_key(change.tx(), tenant, id, &jwk, &sealed).await?;
        let details = event_details(&self.public_url, change.tx(), &row, json!({})).await?;
        change.event(
            NewEvent::new(tenant, actor, "agent.created", Some(format!("agent:{id}")))
                .details(details),
        );
        change.commit().await?;
        Ok(row)
    }

    /// Changes an agent's fields (not its status). Capabilities change only as the caller
    /// may ([`Grantor::may_change_capabilities`]); removing any revokes every token the
    /// agent was issued so far (they may carry it).
    pub async fn update(
        &self,
        tenant: Uuid,
        by: &Grantor,
        id: Uuid,
        patch: AgentPatch,
    ) -> Result<AgentRow, AgentError> {
        let actor = by.actor.as_str();
        let mut change = self.changes.begin().await?;
        let current = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(AgentError::NotFound)?;
        if current.status == AgentStatus::Decommissioned {
            return Err(AgentError::Decommissioned(
                "a decommissioned agent cannot change",
            ));
        }
        let (fields, changed) = patch.apply(&current.fields)?;
        let (before, after) = (current.fields.capability_strs(), fields.capability_strs());
        by.may_change_capabilities(id, &before, &after)?;
        if before.iter().any(|c| !after.contains(c)) {
            change
                .revoke_all(Kind::Agent, &id.to_string(), Some(tenant))
                .await?;
        }
        let row = repo::update(change.tx(), tenant, id, &fields).await?;
        let details = event_details(
            &self.public_url,
            change.tx(),
            &row,
            json!({"changed": changed}),
        )
        .await?;
        change
            .event(
                NewEvent::new(tenant, actor, "agent.updated", Some(format!("agent:{id}")))
                    .details(details),
            )
            // Capabilities bound the scopes of its credentials.
            .after_commit(Effect::InvalidateAgent(id));
        change.commit().await?;
        Ok(row)
    }

    /// Applies a transition; repeating one that already holds changes nothing.
    pub async fn transition(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
        t: Transition,
    ) -> Result<AgentRow, AgentError> {
        let mut change = self.changes.begin().await?;
        let current = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(AgentError::NotFound)?;
        let (target, action) = match (t, current.status) {
            (Transition::Suspend, AgentStatus::Suspended)
            | (Transition::Reactivate, AgentStatus::Active)
            | (Transition::Decommission, AgentStatus::Decommissioned) => return Ok(current),
            (_, AgentStatus::Decommissioned) => {
                return Err(AgentError::Decommissioned(
                    "a decommissioned agent cannot be suspended or reactivated",
                ));
            }
            (Transition::Suspend, _) => (AgentStatus::Suspended, "agent.suspended"),
            (Transition::Reactivate, _) => (AgentStatus::Active, "agent.reactivated"),
            (Transition::Decommission, _) => (AgentStatus::Decommissioned, "agent.decommissioned"),
        };
        let row = repo::set_status(change.tx(), tenant, id, target).await?;
        let mut revoked_credentials = Vec::new();
        match t {
            Transition::Suspend => {
                change
                    .revoke_all(Kind::Agent, &id.to_string(), Some(tenant))
                    .await?;
            }
            Transition::Reactivate => change.reactivate(id).await?,
            Transition::Decommission => {
                change
                    .revoke_all(Kind::Agent, &id.to_string(), Some(tenant))
                    .await?;
                for client_id in clients::revoke_all_for_agent(change.tx(), tenant, id).await? {
                    change
                        .revoke_all(Kind::Client, &client_id, Some(tenant))
                        .await?;
                    revoked_credentials.push(
                        NewEvent::new(tenant, actor, "credential.revoked", Some(format!("client:{client_id}")))
                            .details(json!({"agent_id": id, "client_id": client_id, "reason": "agent_decommissioned"})),
                    );
                }
            }
        }
        let details = event_details(&self.public_url, change.tx(), &row, json!({})).await?;
        change.event(
            NewEvent::new(tenant, actor, action, Some(format!("agent:{id}"))).details(details),
        );
        for e in revoked_credentials {
            change.event(e);
        }
        change.after_commit(Effect::InvalidateAgent(id));
        change.commit().await?;
        Ok(row)
    }
}
