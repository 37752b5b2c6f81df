//! The agents service: what the agent rules touch, and the reads.

use domain::AgentStatus;
use domain::cards::{self, CardContext};
use platform::quota::Quota;
use reqwest::Url;
use uuid::Uuid;

use super::error::AgentError;
use super::view::snapshot;
use crate::audit::change::Changes;
use crate::crypto::Kek;
use crate::did;
use crate::repo::agents::{self as repo, AgentRow, ListFilter};
use crate::repo::tenants;

/// Registers, reads and changes agents.
#[derive(Debug)]
pub struct Agents {
    pub(super) changes: Changes,
    pub(super) quota: Quota,
    pub(super) kek: Kek,
    pub(super) public_url: Url,
}

impl Agents {
    /// Agents stored and changed through `changes`, limited by `quota`'s tiers, whose DID
    /// keys are sealed with `kek` and whose DIDs name the deployment at `public_url`.
    pub fn new(changes: Changes, quota: Quota, kek: Kek, public_url: Url) -> Self {
        Self {
            changes,
            quota,
            kek,
            public_url,
        }
    }

    /// The deployment's public URL (agent DIDs and documents name it).
    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// An agent of `tenant`.
    pub async fn get(&self, tenant: Uuid, id: Uuid) -> Result<AgentRow, AgentError> {
        let c = self.changes.db().get().await?;
        repo::get(&c, tenant, id, false)
            .await?
            .ok_or(AgentError::NotFound)
    }

    /// Up to `limit` agents of `tenant` matching `filter`, in creation order.
    pub async fn list(
        &self,
        tenant: Uuid,
        filter: &ListFilter,
        limit: i64,
    ) -> Result<Vec<AgentRow>, AgentError> {
        let c = self.changes.db().get().await?;
        Ok(repo::list(&c, tenant, filter, limit).await?)
    }

    /// An active agent's A2A agent card (suspended agents have none; decommissioned ones
    /// are gone).
    pub async fn card(&self, id: Uuid) -> Result<serde_json::Value, AgentError> {
        let c = self.changes.db().get().await?;
        let (row, _) = repo::get_public_with_key(&c, id)
            .await?
            .ok_or(AgentError::NotFound)?;
        match row.status {
            AgentStatus::Active => {}
            AgentStatus::Decommissioned => {
                return Err(AgentError::Gone(
                    "this agent was decommissioned; it has no agent card",
                ));
            }
            AgentStatus::Suspended => return Err(AgentError::NotFound),
        }
        let publisher = tenants::get(&c, row.tenant_id).await?.map(|t| t.name);
        let base = self.public_url.as_str().trim_end_matches('/').to_owned();
        Ok(cards::a2a_card(
            &snapshot(&self.public_url, &row),
            CardContext {
                base_url: &base,
                publisher: publisher.as_deref(),
            },
        ))
    }

    /// An agent's DID document, until it is decommissioned.
    pub async fn did_document(&self, id: Uuid) -> Result<serde_json::Value, AgentError> {
        let c = self.changes.db().get().await?;
        let (row, jwk) = repo::get_public_with_key(&c, id)
            .await?
            .ok_or(AgentError::NotFound)?;
        if row.status == AgentStatus::Decommissioned {
            return Err(AgentError::Gone(
                "this agent was decommissioned; its DID is deactivated",
            ));
        }
        let did = did::agent_did(&self.public_url, id);
        Ok(did::document(&did, &[jwk]))
    }
}
