//! Agent credentials: creation, rotation with an optional grace period, revocation.
//!
//! A secret is 256 random bits, shown once, stored as HMAC-SHA-256 under the pepper.
//! Rotation replaces the secret; the previous one may keep working for a grace period (at
//! most 7 days). Revocation also revokes every token issued with the credential.

use platform::errors::{ApiError, FieldError};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::audit::{self, NewEvent};
use crate::crypto;
use crate::repo::agents;
use crate::repo::clients::{self, CredentialRow, NewClientKind};
use crate::startup::AppState;
use crate::tokens::revocation::Kind;

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
}

/// Body of `POST .../credentials/{cid}/rotate` (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// How long the previous secret keeps working (0 to 604800 s; default 0).
    grace_period_secs: Option<u64>,
}

/// The API representation of a credential (never its secret).
pub fn to_json(c: &CredentialRow) -> serde_json::Value {
    json!({
        "id": c.id,
        "client_id": c.client_id,
        "agent_id": c.agent_id,
        "scopes": c.scopes,
        "status": c.status,
        "expires_at": c.expires_at.map(audit::format_time),
        "previous_secret_expires_at": c.previous_secret_expires_at.map(audit::format_time),
        "created_at": audit::format_time(c.created_at),
        "rotated_at": c.rotated_at.map(audit::format_time),
        "revoked_at": c.revoked_at.map(audit::format_time),
    })
}

/// A credential with its secret, as created or rotated (shown once).
pub fn with_secret(c: &CredentialRow, secret: &str) -> serde_json::Value {
    let mut v = to_json(c);
    v["client_secret"] = secret.into();
    v
}

/// Creates a credential for an agent; returns it with its secret.
pub async fn create(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    agent_id: Uuid,
    input: NewCredentialInput,
) -> Result<(CredentialRow, String), ApiError> {
    let now = OffsetDateTime::now_utc();
    let mut errors = Vec::new();
    let expires_at = match (&input.expires_at, input.expires_in_secs) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "expires_at",
                "set expires_at or expires_in_secs, not both",
            ));
            None
        }
        (Some(s), None) => match OffsetDateTime::parse(s, &Rfc3339) {
            Ok(t) if t > now => Some(audit::micros(t)),
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
            Some(audit::micros(now + time::Duration::seconds(secs as i64)))
        }
        (None, Some(_)) => {
            errors.push(FieldError::new(
                "expires_in_secs",
                "must be from 1 to 315360000",
            ));
            None
        }
        (None, None) => None,
    };

    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let agent = agents::get_for_update(&tx, tenant, agent_id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if agent.status == "decommissioned" {
        return Err(ApiError::conflict(
            "agent_decommissioned",
            "a decommissioned agent cannot get credentials",
        ));
    }
    let scopes = input.scopes.map(|s| {
        let mut out: Vec<String> = Vec::new();
        for (i, sc) in s.iter().enumerate() {
            if !agent.capabilities.contains(sc) {
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
        return Err(ApiError::validation(errors));
    }
    let id = Uuid::now_v7();
    let client_id = crypto::new_client_id()?;
    let secret = crypto::new_client_secret()?;
    clients::insert(
        &tx,
        id,
        &client_id,
        &state.pepper.hash(&secret),
        NewClientKind::Agent {
            tenant,
            agent: agent_id,
            scopes: scopes.as_deref(),
            expires_at,
        },
    )
    .await?;
    audit::append(
        &tx,
        vec![
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
                "expires_at": expires_at.map(audit::format_time),
            })),
        ],
    )
    .await?;
    let row = clients::get(&tx, tenant, agent_id, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("credential vanished")))?;
    tx.commit().await?;
    Ok((row, secret))
}

/// Rotates a credential's secret; returns it with the new secret.
pub async fn rotate(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    agent_id: Uuid,
    id: Uuid,
    input: RotateInput,
) -> Result<(CredentialRow, String), ApiError> {
    let grace = input.grace_period_secs.unwrap_or(0);
    if grace > MAX_GRACE_SECS {
        return Err(ApiError::invalid_field(
            "grace_period_secs",
            "must be from 0 to 604800",
        ));
    }
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let current = clients::get_for_update(&tx, tenant, agent_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    if current.status != "active" {
        return Err(ApiError::conflict(
            "credential_revoked",
            "a revoked credential cannot be rotated",
        ));
    }
    let secret = crypto::new_client_secret()?;
    let until = (grace > 0)
        .then(|| audit::micros(OffsetDateTime::now_utc() + time::Duration::seconds(grace as i64)));
    let row = clients::rotate(&tx, tenant, id, &state.pepper.hash(&secret), until).await?;
    audit::append(
        &tx,
        vec![
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
                "previous_secret_expires_at": until.map(audit::format_time),
            })),
        ],
    )
    .await?;
    tx.commit().await?;
    state.cache.invalidate_client(&row.client_id);
    Ok((row, secret))
}

/// Revokes a credential and every token issued with it; repeating it changes nothing.
pub async fn revoke(
    state: &AppState,
    tenant: Uuid,
    actor: &str,
    agent_id: Uuid,
    id: Uuid,
) -> Result<CredentialRow, ApiError> {
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let current = clients::get_for_update(&tx, tenant, agent_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("credential"))?;
    if current.status != "active" {
        return Ok(current);
    }
    let row = clients::revoke(&tx, tenant, id).await?;
    let revocation = state
        .revocations
        .revoke_all(&tx, Kind::Client, &row.client_id, Some(tenant))
        .await?;
    audit::append(
        &tx,
        vec![
            NewEvent::new(
                tenant,
                actor,
                "credential.revoked",
                Some(format!("credential:{id}")),
            )
            .details(
                json!({"agent_id": agent_id, "credential_id": id, "client_id": row.client_id}),
            ),
        ],
    )
    .await?;
    tx.commit().await?;
    state.cache.invalidate_client(&row.client_id);
    state.revocations.publish(&[revocation]).await;
    Ok(row)
}
