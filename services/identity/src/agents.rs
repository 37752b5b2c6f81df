//! Agents: validation of their fields, their representation, and lifecycle changes.
//!
//! Every change runs in one transaction with its audit event (and, for suspension or
//! decommissioning, the revocation of the agent's tokens and credentials); after the commit
//! the revocations are mirrored to Redis and this instance's credential cache forgets the
//! agent, so the change takes effect here at once and elsewhere within a second.

use domain::{AgentStatus, AgentType, DeploymentEnv};
use platform::errors::{ApiError, FieldError};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, NewEvent};
use crate::repo::agents::{self as repo, AgentFields, AgentRow};
use crate::repo::{clients, tenants};
use crate::startup::AppState;
use crate::tokens::revocation::Kind;

/// Body of `POST /api/v1/agents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgentInput {
    name: String,
    #[serde(default)]
    description: Option<String>,
    agent_type: String,
    version: String,
    #[serde(default)]
    capabilities: Option<Vec<String>>,
    owner: String,
    deployment_env: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    listed: Option<bool>,
}

/// Body of `PATCH /api/v1/agents/{id}`: any subset of the writable fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    name: Option<String>,
    description: Option<String>,
    agent_type: Option<String>,
    version: Option<String>,
    capabilities: Option<Vec<String>>,
    owner: Option<String>,
    deployment_env: Option<String>,
    tags: Option<Vec<String>>,
    listed: Option<bool>,
}

fn has_control(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\t' | '\r')))
}

fn text(
    errors: &mut Vec<FieldError>,
    field: &str,
    v: &str,
    max: usize,
    allow_empty: bool,
) -> String {
    let t = v.trim();
    if t.is_empty() && !allow_empty {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if t.chars().count() > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    } else if has_control(t, field == "description") {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    t.to_owned()
}

fn semver(errors: &mut Vec<FieldError>, v: &str) -> String {
    let v = v.trim();
    let (core, rest) = v.split_at(v.find(['-', '+']).unwrap_or(v.len()));
    let core_ok = core.split('.').count() == 3
        && core.split('.').all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
        });
    let rest_ok = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
        && !rest.ends_with(['-', '+', '.']);
    if !core_ok || !rest_ok || v.len() > 64 {
        errors.push(FieldError::new(
            "version",
            "must be a semantic version such as 1.4.0 or 2.0.0-rc.1",
        ));
    }
    v.to_owned()
}

fn wire<T: std::str::FromStr<Err = String>>(
    errors: &mut Vec<FieldError>,
    field: &str,
    v: &str,
) -> String {
    if let Err(e) = v.parse::<T>() {
        errors.push(FieldError::new(field, e));
    }
    v.to_owned()
}

fn capabilities(errors: &mut Vec<FieldError>, caps: &[String]) -> Vec<String> {
    if caps.len() > 64 {
        errors.push(FieldError::new("capabilities", "at most 64 capabilities"));
    }
    let mut out: Vec<String> = Vec::with_capacity(caps.len());
    for (i, c) in caps.iter().enumerate() {
        let c = c.trim();
        if c == "internal" || !domain::scope::is_valid_scope_token(c) || !c.contains(':') {
            errors.push(FieldError::new(
                format!("capabilities[{i}]"),
                "must be resource:action in lowercase letters, digits and _.- (e.g. documents:read)",
            ));
        } else if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    }
    out
}

fn tags(errors: &mut Vec<FieldError>, tags: &[String]) -> Vec<String> {
    if tags.len() > 32 {
        errors.push(FieldError::new("tags", "at most 32 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        let t = t.trim().to_ascii_lowercase();
        let ok = !t.is_empty()
            && t.len() <= 64
            && t.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if !ok {
            errors.push(FieldError::new(
                format!("tags[{i}]"),
                "must be 1 to 64 of a-z, 0-9, - _ .",
            ));
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

impl NewAgentInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(self) -> Result<AgentFields, ApiError> {
        let mut e = Vec::new();
        let f = AgentFields {
            name: text(&mut e, "name", &self.name, 128, false),
            description: text(
                &mut e,
                "description",
                self.description.as_deref().unwrap_or(""),
                2000,
                true,
            ),
            agent_type: wire::<AgentType>(&mut e, "agent_type", &self.agent_type),
            version: semver(&mut e, &self.version),
            capabilities: capabilities(&mut e, self.capabilities.as_deref().unwrap_or(&[])),
            owner: text(&mut e, "owner", &self.owner, 256, false),
            deployment_env: wire::<DeploymentEnv>(&mut e, "deployment_env", &self.deployment_env),
            tags: tags(&mut e, self.tags.as_deref().unwrap_or(&[])),
            listed: self.listed.unwrap_or(true),
        };
        if e.is_empty() {
            Ok(f)
        } else {
            Err(ApiError::validation(e))
        }
    }
}

impl AgentPatch {
    /// Applies the patch to `current`, validating the fields it sets.
    pub fn apply(self, current: &AgentRow) -> Result<(AgentFields, Vec<&'static str>), ApiError> {
        let mut e = Vec::new();
        let mut changed = Vec::new();
        let mut mark = |name: &'static str, present: bool| {
            if present {
                changed.push(name);
            }
        };
        mark("name", self.name.is_some());
        mark("description", self.description.is_some());
        mark("agent_type", self.agent_type.is_some());
        mark("version", self.version.is_some());
        mark("capabilities", self.capabilities.is_some());
        mark("owner", self.owner.is_some());
        mark("deployment_env", self.deployment_env.is_some());
        mark("tags", self.tags.is_some());
        mark("listed", self.listed.is_some());
        let f = AgentFields {
            name: match &self.name {
                Some(v) => text(&mut e, "name", v, 128, false),
                None => current.name.clone(),
            },
            description: match &self.description {
                Some(v) => text(&mut e, "description", v, 2000, true),
                None => current.description.clone(),
            },
            agent_type: match &self.agent_type {
                Some(v) => wire::<AgentType>(&mut e, "agent_type", v),
                None => current.agent_type.clone(),
            },
            version: match &self.version {
                Some(v) => semver(&mut e, v),
                None => current.version.clone(),
            },
            capabilities: match &self.capabilities {
                Some(v) => capabilities(&mut e, v),
                None => current.capabilities.clone(),
            },
            owner: match &self.owner {
                Some(v) => text(&mut e, "owner", v, 256, false),
                None => current.owner.clone(),
            },
            deployment_env: match &self.deployment_env {
                Some(v) => wire::<DeploymentEnv>(&mut e, "deployment_env", v),
                None => current.deployment_env.clone(),
            },
            tags: match &self.tags {
                Some(v) => tags(&mut e, v),
                None => current.tags.clone(),
            },
            listed: self.listed.unwrap_or(current.listed),
        };
        if changed.is_empty() {
            e.push(FieldError::new("body", "set at least one field"));
        }
        if e.is_empty() {
            Ok((f, changed))
        } else {
            Err(ApiError::validation(e))
        }
    }
}

/// The agent's DID (`did:web:<PUBLIC_URL host>:agents:<id>`).
pub fn did_of(state: &AppState, id: Uuid) -> String {
    crate::did::agent_did(&state.config.common.public_url, id)
}

/// The API representation of an agent (also the `agent` of its change-feed events).
pub fn snapshot(state: &AppState, a: &AgentRow) -> domain::AgentSnapshot {
    domain::AgentSnapshot {
        id: a.id,
        name: a.name.clone(),
        description: a.description.clone(),
        agent_type: a.agent_type.clone(),
        version: a.version.clone(),
        capabilities: a.capabilities.clone(),
        owner: a.owner.clone(),
        deployment_env: a.deployment_env.clone(),
        tags: a.tags.clone(),
        listed: a.listed,
        status: a.status.clone(),
        did: did_of(state, a.id),
        created_at: audit::format_time(a.created_at),
        updated_at: audit::format_time(a.updated_at),
    }
}

/// [`snapshot`] as JSON.
pub fn to_json(state: &AppState, a: &AgentRow) -> serde_json::Value {
    serde_json::to_value(snapshot(state, a)).unwrap_or_default()
}

async fn event_details(
    state: &AppState,
    tx: &impl platform::db::GenericClient,
    a: &AgentRow,
    extra: serde_json::Value,
) -> Result<serde_json::Value, ApiError> {
    let publisher = tenants::get(tx, a.tenant_id).await?.map(|t| t.name);
    let public_jwk = crate::repo::agents::public_key(tx, a.id).await?;
    let mut d = json!({
        "agent": to_json(state, a),
        "publisher": publisher,
        "public_jwk": public_jwk,
    });
    if let (Some(obj), serde_json::Value::Object(extra)) = (d.as_object_mut(), extra) {
        obj.extend(extra);
    }
    Ok(d)
}

/// Registers an agent.
pub async fn create(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    fields: AgentFields,
) -> Result<AgentRow, ApiError> {
    let agent_limit = state.core.quota.agent_limit(tenant).await;
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    if let Some((tier, max)) = agent_limit {
        // Counted under a lock on the tenant, so concurrent creations cannot overshoot.
        let live = repo::lock_tenant_and_count_live(&tx, tenant).await?;
        if live >= max as i64 {
            return Err(ApiError::forbidden(
                "quota_exceeded",
                format!("the {tier} tier allows {max} agents; decommission one or upgrade"),
            )
            .with_extra("limit", "max_agents".into())
            .with_extra("tier", tier.as_str().into())
            .with_extra("max", max.into()));
        }
    }
    let id = Uuid::now_v7();
    let row = repo::insert(&tx, tenant, id, &fields).await?;
    crate::did::create_key(state, &tx, tenant, id).await?;
    let details = event_details(state, &tx, &row, json!({})).await?;
    audit::append(
        &tx,
        vec![
            NewEvent::new(tenant, actor, "agent.created", Some(format!("agent:{id}")))
                .details(details),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Changes an agent's fields (not its status).
pub async fn update(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    id: Uuid,
    patch: AgentPatch,
) -> Result<AgentRow, ApiError> {
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let current = repo::get_for_update(&tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if current.status == AgentStatus::Decommissioned.as_str() {
        return Err(ApiError::conflict(
            "agent_decommissioned",
            "a decommissioned agent cannot change",
        ));
    }
    let (fields, changed) = patch.apply(&current)?;
    let row = repo::update(&tx, tenant, id, &fields).await?;
    let details = event_details(state, &tx, &row, json!({"changed": changed})).await?;
    audit::append(
        &tx,
        vec![
            NewEvent::new(tenant, actor, "agent.updated", Some(format!("agent:{id}")))
                .details(details),
        ],
    )
    .await?;
    tx.commit().await?;
    // Capabilities bound the scopes of its credentials.
    state.cache.invalidate_agent(id);
    Ok(row)
}

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

/// Applies a transition; repeating one that already holds changes nothing.
pub async fn transition(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    id: Uuid,
    t: Transition,
) -> Result<AgentRow, ApiError> {
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let current = repo::get_for_update(&tx, tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    let status: AgentStatus = current
        .status
        .parse()
        .map_err(|e: String| ApiError::internal(anyhow::anyhow!(e)))?;
    let (target, action) = match (t, status) {
        (Transition::Suspend, AgentStatus::Suspended)
        | (Transition::Reactivate, AgentStatus::Active)
        | (Transition::Decommission, AgentStatus::Decommissioned) => return Ok(current),
        (_, AgentStatus::Decommissioned) => {
            return Err(ApiError::conflict(
                "agent_decommissioned",
                "a decommissioned agent cannot be suspended or reactivated",
            ));
        }
        (Transition::Suspend, _) => (AgentStatus::Suspended, "agent.suspended"),
        (Transition::Reactivate, _) => (AgentStatus::Active, "agent.reactivated"),
        (Transition::Decommission, _) => (AgentStatus::Decommissioned, "agent.decommissioned"),
    };
    let row = repo::set_status(&tx, tenant, id, target.as_str()).await?;
    let mut published = Vec::new();
    let mut events = Vec::new();
    match t {
        Transition::Suspend => {
            published.push(
                state
                    .revocations
                    .revoke_all(&tx, Kind::Agent, &id.to_string(), Some(tenant))
                    .await?,
            );
        }
        Transition::Reactivate => {
            published.extend(state.revocations.reactivate(&tx, id).await?);
        }
        Transition::Decommission => {
            published.push(
                state
                    .revocations
                    .revoke_all(&tx, Kind::Agent, &id.to_string(), Some(tenant))
                    .await?,
            );
            for client_id in clients::revoke_all_for_agent(&tx, tenant, id).await? {
                published.push(
                    state
                        .revocations
                        .revoke_all(&tx, Kind::Client, &client_id, Some(tenant))
                        .await?,
                );
                events.push(
                    NewEvent::new(tenant, actor, "credential.revoked", Some(format!("client:{client_id}")))
                        .details(json!({"agent_id": id, "client_id": client_id, "reason": "agent_decommissioned"})),
                );
            }
        }
    }
    let details = event_details(state, &tx, &row, json!({})).await?;
    events.insert(
        0,
        NewEvent::new(tenant, actor, action, Some(format!("agent:{id}"))).details(details),
    );
    audit::append(&tx, events).await?;
    tx.commit().await?;
    state.cache.invalidate_agent(id);
    state.revocations.publish(&published).await;
    Ok(row)
}
