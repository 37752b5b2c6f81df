//! Agent credentials: creation, rotation with an optional grace period, revocation.
//!
//! A secret is 256 random bits, shown once, stored as HMAC-SHA-256 under the pepper.
//! Rotation replaces the secret; the previous one may keep working for a grace period (at
//! most 7 days). Revocation also revokes every token issued with the credential.

use domain::{AgentStatus, ClientStatus};
use platform::errors::FieldError;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::agents::privileges::{Grantor, PrivilegeError};
use crate::audit::change::{Changes, Effect};
use crate::audit::event::{NewEvent, format_time, micros};
use crate::client_keys;
use crate::crypto::{self, Pepper};
use crate::repo::agents;
use crate::repo::clients::{self, CredentialRow, NewClientKind};
use crate::tokens::revocation::Kind;
use platform::Failure;

/// Longest rotation grace period.
pub const MAX_GRACE_SECS: u64 = 7 * 86_400;

/// Body of `POST /api/v1/agents/{id}/credentials` (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCredentialInput {
    /// Restrict the credential to these of the agent's capabilities.
    scopes: Option<Vec<String>>,
    /// RFC 3339 expiry.
    expires_at: Option<String>,
    /// Or: lifetime in seconds.
    expires_in_secs: Option<u64>,
    /// `client_secret` (default) or `private_key_jwt`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// private_key_jwt: the client's public keys.
    jwks: Option<serde_json::Value>,
    /// private_key_jwt: where the client publishes its public keys.
    jwks_uri: Option<String>,
    /// Its tokens must be DPoP-bound.
    dpop_bound: Option<bool>,
}

/// Body of `PATCH /api/v1/agents/{id}/credentials/{cid}`: new keys of a private_key_jwt
/// credential (replacing the old ones: a key left out stops working), or the DPoP rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialPatch {
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    dpop_bound: Option<bool>,
}

/// Body of `POST .../credentials/{cid}/rotate` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// How long the previous secret keeps working (0 to 604800 s; default 0).
    grace_period_secs: Option<u64>,
}

impl RotateInput {
    /// Until when the previous secret keeps working after a rotation at `now` (`None`: it
    /// stops at once); a grace period over [`MAX_GRACE_SECS`] is refused.
    pub fn previous_until(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, FieldError> {
        let grace = self.grace_period_secs.unwrap_or(0);
        if grace > MAX_GRACE_SECS {
            return Err(FieldError::new(
                "grace_period_secs",
                "must be from 0 to 604800",
            ));
        }
        Ok((grace > 0).then(|| micros(now + time::Duration::seconds(grace as i64))))
    }
}

/// The API representation of a credential (never its secret).
pub fn to_json(c: &CredentialRow) -> serde_json::Value {
    json!({
        "id": c.id,
        "client_id": c.client_id,
        "agent_id": c.agent_id,
        "scopes": c.scopes,
        "status": c.status,
        "expires_at": c.expires_at.map(format_time),
        "previous_secret_expires_at": c.previous_secret_expires_at.map(format_time),
        "created_at": format_time(c.created_at),
        "rotated_at": c.rotated_at.map(format_time),
        "revoked_at": c.revoked_at.map(format_time),
        "type": c.auth_method,
        "jwks": c.jwks,
        "jwks_uri": c.jwks_uri,
        "dpop_bound": c.dpop_bound,
    })
}

/// A credential with its secret, as created or rotated (shown once; key credentials have
/// none).
pub fn with_secret(c: &CredentialRow, secret: Option<&str>) -> serde_json::Value {
    let mut v = to_json(c);
    if let Some(secret) = secret {
        v["client_secret"] = secret.into();
    }
    v
}

/// Why a credential rule refused.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such agent in the tenant.
    #[error("agent not found")]
    AgentNotFound,
    /// No such credential of the agent.
    #[error("credential not found")]
    NotFound,
    /// The agent is decommissioned (409).
    #[error("a decommissioned agent cannot get credentials")]
    AgentDecommissioned,
    /// The credential is revoked (409).
    #[error("a revoked credential cannot be rotated")]
    Revoked,
    /// The caller may not hand out a credential with these scopes (403).
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(CredentialError);

/// Creates, lists, rotates and revokes agent credentials.
#[derive(Debug)]
pub struct Credentials {
    changes: Changes,
    pepper: Pepper,
    /// `FEDERATION_ALLOWED_NETWORKS`: where plain-http `jwks_uri`s may be.
    allowed: Vec<platform::net::Cidr>,
}

/// `expires_at` or `expires_in_secs` of a new credential, as an instant; problems are added
/// to `errors`.
fn expiry(
    input: &NewCredentialInput,
    now: OffsetDateTime,
    errors: &mut Vec<FieldError>,
) -> Option<OffsetDateTime> {
    match (&input.expires_at, input.expires_in_secs) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "expires_at",
                "set expires_at or expires_in_secs, not both",
            ));
            None
        }
        (Some(s), None) => match OffsetDateTime::parse(s, &Rfc3339) {
            Ok(t) if t > now => Some(micros(t)),
            Ok(_) => {
                errors.push(FieldError::new("expires_at", "must be in the future"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new(
                    "expires_at",
                    "must be an RFC 3339 date-time",
                ));
                None
            }
        },
        (None, Some(secs)) if (1..=10 * 365 * 86_400).contains(&secs) => {
            Some(micros(now + time::Duration::seconds(secs as i64)))
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "expires_in_secs",
                "must be from 1 to 315360000",
            ));
            None
        }
        (None, None) => None,
    }
}

impl Credentials {
    /// Credentials stored and changed through `changes`, secrets hashed with `pepper`;
    /// plain-http `jwks_uri`s only inside `allowed`.
    pub fn new(changes: Changes, pepper: Pepper, allowed: Vec<platform::net::Cidr>) -> Self {
        Self {
            changes,
            pepper,
            allowed,
        }
    }

    /// An agent's credentials, oldest first.
    pub async fn list(
        &self,
        tenant: Uuid,
        agent: Uuid,
    ) -> Result<Vec<CredentialRow>, CredentialError> {
        let c = self.changes.db().get().await?;
        if agents::get(&c, tenant, agent, false).await?.is_none() {
            return Err(CredentialError::AgentNotFound);
        }
        Ok(clients::list_for_agent(&c, tenant, agent).await?)
    }

    /// Creates a credential for an agent; returns it with its secret. Its scopes (all the
    /// agent's capabilities when it lists none) must be ones the caller may give
    /// ([`Grantor::may_bind`]).
    pub async fn create(
        &self,
        tenant: Uuid,
        by: &Grantor,
        agent_id: Uuid,
        input: NewCredentialInput,
    ) -> Result<(CredentialRow, Option<String>), CredentialError> {
        let actor = by.actor.as_str();
        let mut errors = Vec::new();
        let expires_at = expiry(&input, OffsetDateTime::now_utc(), &mut errors);
        let keys = client_keys::requested(
            input.kind.as_deref(),
            input.jwks.as_ref(),
            input.jwks_uri.as_deref(),
            &self.allowed,
            &mut errors,
        );
        let dpop_bound = input.dpop_bound.unwrap_or(false);
        let mut change = self.changes.begin().await?;
        let agent = agents::get(change.tx(), tenant, agent_id, true)
            .await?
            .ok_or(CredentialError::AgentNotFound)?;
        if agent.status == AgentStatus::Decommissioned {
            return Err(CredentialError::AgentDecommissioned);
        }
        let capabilities = agent.fields.capability_strs();
        let scopes = input.scopes.map(|s| {
            let mut out: Vec<String> = Vec::new();
            for (i, sc) in s.iter().enumerate() {
                if !capabilities.contains(&sc.as_str()) {
                    errors.push(FieldError::new(
                        format!("scopes[{i}]"),
                        "must be one of the agent's capabilities",
                    ));
                } else if !out.contains(sc) {
                    out.push(sc.clone());
                }
            }
            out
        });
        if !errors.is_empty() {
            return Err(CredentialError::Invalid(errors));
        }
        match &scopes {
            Some(s) => by.may_bind(s.iter().map(String::as_str))?,
            None => by.may_bind(capabilities.iter().copied())?,
        }
        let id = Uuid::now_v7();
        let client_id = crypto::new_client_id()?;
        let secret = crypto::new_client_secret()?;
        clients::insert(
            change.tx(),
            id,
            &client_id,
            &self.pepper.hash(&secret),
            NewClientKind::Agent {
                tenant,
                agent: agent_id,
                scopes: scopes.as_deref(),
                expires_at,
            },
        )
        .await?;
        if keys.is_some() || dpop_bound {
            let (jwks, uri) = keys.clone().unwrap_or_default();
            clients::set_keys(change.tx(), id, jwks.as_ref(), uri.as_deref(), dpop_bound).await?;
        }
        change.event(
            NewEvent::new(
                tenant,
                actor,
                "credential.generated",
                Some(format!("credential:{id}")),
            )
            .details(json!({
                "agent_id": agent_id,
                "credential_id": id,
                "client_id": client_id,
                "scopes": scopes,
                "expires_at": expires_at.map(format_time),
                "type": if keys.is_some() { "private_key_jwt" } else { "client_secret" },
                "dpop_bound": dpop_bound,
            })),
        );
        let row = clients::get(change.tx(), tenant, agent_id, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("credential vanished"))?;
        change.commit().await?;
        Ok((row, keys.is_none().then_some(secret)))
    }

    /// Replaces a private_key_jwt credential's keys (old keys stop working at once) or
    /// changes whether its tokens must be DPoP-bound.
    pub async fn update(
        &self,
        tenant: Uuid,
        actor: &str,
        agent_id: Uuid,
        id: Uuid,
        patch: CredentialPatch,
    ) -> Result<CredentialRow, CredentialError> {
        let mut errors = Vec::new();
        let new_keys = (patch.jwks.is_some() || patch.jwks_uri.is_some()).then(|| {
            client_keys::keys_of(
                patch.jwks.as_ref(),
                patch.jwks_uri.as_deref(),
                &self.allowed,
                &mut errors,
            )
        });
        if !errors.is_empty() {
            return Err(CredentialError::Invalid(errors));
        }
        let mut change = self.changes.begin().await?;
        let current = clients::get_for_update(change.tx(), tenant, agent_id, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        if current.status != ClientStatus::Active {
            return Err(CredentialError::Revoked);
        }
        let is_key_client = current.auth_method == "private_key_jwt";
        if new_keys.is_some() && !is_key_client {
            return Err(CredentialError::Invalid(vec![FieldError::new(
                "jwks",
                "only a private_key_jwt credential has keys; rotate a secret credential instead",
            )]));
        }
        let (jwks, uri) = new_keys.unwrap_or((current.jwks.clone(), current.jwks_uri.clone()));
        let dpop_bound = patch.dpop_bound.unwrap_or(current.dpop_bound);
        if is_key_client {
            clients::set_keys(change.tx(), id, jwks.as_ref(), uri.as_deref(), dpop_bound).await?;
        } else {
            clients::set_keys(change.tx(), id, None, None, dpop_bound).await?;
        }
        let row = clients::get(change.tx(), tenant, agent_id, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        change
            .event(
                NewEvent::new(
                    tenant,
                    actor,
                    "credential.rotated",
                    Some(format!("credential:{id}")),
                )
                .details(json!({
                    "agent_id": agent_id,
                    "credential_id": id,
                    "client_id": row.client_id,
                    "keys_replaced": patch.jwks.is_some() || patch.jwks_uri.is_some(),
                    "dpop_bound": dpop_bound,
                })),
            )
            .after_commit(Effect::InvalidateClient(row.client_id.clone()));
        change.commit().await?;
        Ok(row)
    }

    /// Rotates a credential's secret; returns it with the new secret. The new secret is
    /// the credential's scopes, so the caller must be one that may give them.
    pub async fn rotate(
        &self,
        tenant: Uuid,
        by: &Grantor,
        agent_id: Uuid,
        id: Uuid,
        input: RotateInput,
    ) -> Result<(CredentialRow, String), CredentialError> {
        let until = input
            .previous_until(OffsetDateTime::now_utc())
            .map_err(|e| CredentialError::Invalid(vec![e]))?;
        let mut change = self.changes.begin().await?;
        let current = clients::get_for_update(change.tx(), tenant, agent_id, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        if current.status != ClientStatus::Active {
            return Err(CredentialError::Revoked);
        }
        if current.auth_method == "private_key_jwt" {
            return Err(CredentialError::Invalid(vec![FieldError::new(
                "type",
                "a private_key_jwt credential has no secret; replace its keys with PATCH",
            )]));
        }
        let agent = agents::get(change.tx(), tenant, agent_id, false)
            .await?
            .ok_or(CredentialError::AgentNotFound)?;
        let capabilities = agent.fields.capability_strs();
        match &current.scopes {
            Some(s) => by.may_bind(
                s.iter()
                    .map(String::as_str)
                    .filter(|s| capabilities.contains(s)),
            )?,
            None => by.may_bind(capabilities.iter().copied())?,
        }
        let actor = by.actor.as_str();
        let secret = crypto::new_client_secret()?;
        let row =
            clients::rotate(change.tx(), tenant, id, &self.pepper.hash(&secret), until).await?;
        change
            .event(
                NewEvent::new(
                    tenant,
                    actor,
                    "credential.rotated",
                    Some(format!("credential:{id}")),
                )
                .details(json!({
                    "agent_id": agent_id,
                    "credential_id": id,
                    "client_id": row.client_id,
                    "previous_secret_expires_at": until.map(format_time),
                })),
            )
            .after_commit(Effect::InvalidateClient(row.client_id.clone()));
        change.commit().await?;
        Ok((row, secret))
    }

    /// Revokes a credential and every token issued with it; repeating it changes nothing.
    pub async fn revoke(
        &self,
        tenant: Uuid,
        actor: &str,
        agent_id: Uuid,
        id: Uuid,
    ) -> Result<CredentialRow, CredentialError> {
        let mut change = self.changes.begin().await?;
        let current = clients::get_for_update(change.tx(), tenant, agent_id, id)
            .await?
            .ok_or(CredentialError::NotFound)?;
        if current.status != ClientStatus::Active {
            return Ok(current);
        }
        let row = clients::revoke(change.tx(), tenant, id).await?;
        change
            .revoke_all(Kind::Client, &row.client_id, Some(tenant))
            .await?;
        change
            .event(
                NewEvent::new(
                    tenant,
                    actor,
                    "credential.revoked",
                    Some(format!("credential:{id}")),
                )
                .details(
                    json!({"agent_id": agent_id, "credential_id": id, "client_id": row.client_id}),
                ),
            )
            .after_commit(Effect::InvalidateClient(row.client_id.clone()));
        change.commit().await?;
        Ok(row)
    }
}
