//! Client authentication (RFC 6749 §2.3.1) for the token, introspection and revocation
//! endpoints: per-client and per-IP limits (one Redis round trip), the client from the
//! credential cache, its secret (current, or previous during a rotation grace period) in
//! constant time, and the client, agent and tenant state.
//!
//! Every refusal of a known client is audited with its reason, while the client only learns
//! `invalid_client` (the reason would help an attacker).

use std::net::IpAddr;
use std::sync::Arc;

use domain::{AgentStatus, ClientKind, ClientStatus, TenantStatus};
use platform::rate_limit::{Action, Check, Decision};
use time::OffsetDateTime;
use uuid::Uuid;

use super::request::ClientCredentials;
use super::service::TokenService;
use crate::audit::event::{NewEvent, SYSTEM_TENANT};
use crate::audit::writer::AuditUnavailable;
use crate::repo::clients::TokenClientRow;
use platform::Failure;

/// Why a client was not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    /// Unknown client, wrong secret, or a client that may not get tokens (the reason is
    /// audited, never sent).
    #[error("client authentication failed")]
    InvalidClient,
    /// The client or its address sent too many requests.
    #[error("too many requests ({})", .0.action.name())]
    RateLimited(Decision),
    /// The refusal could not be audited.
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(ClientAuthError);

/// Why a known client was refused (audited, never sent).
fn refusal(
    row: &TokenClientRow,
    secret: &str,
    svc: &TokenService,
    now: OffsetDateTime,
) -> Option<&'static str> {
    let current = svc.pepper.verify(secret, &row.secret_hash);
    let previous = !current
        && row.previous_secret_expires_at.is_some_and(|t| t > now)
        && row
            .previous_secret_hash
            .as_deref()
            .is_some_and(|h| svc.pepper.verify(secret, h));
    if !current && !previous {
        return Some("wrong_secret");
    }
    if row.status != ClientStatus::Active {
        return Some("credential_revoked");
    }
    if row.expires_at.is_some_and(|t| t <= now) {
        return Some("credential_expired");
    }
    if row.kind == ClientKind::Agent && row.agent_status != Some(AgentStatus::Active) {
        return Some(match row.agent_status {
            Some(AgentStatus::Suspended) => "agent_suspended",
            _ => "agent_decommissioned",
        });
    }
    if row.tenant_id.is_some() && row.tenant_status != Some(TenantStatus::Active) {
        return Some("tenant_suspended");
    }
    None
}

/// The audit chain of a client's events.
pub(super) fn tenant_of(row: &TokenClientRow) -> Uuid {
    row.tenant_id.unwrap_or(SYSTEM_TENANT)
}

impl TokenService {
    /// Audits the refusal of a known client (when token events are audited), then answers
    /// `err`; when the audit log cannot record it, the request fails for that reason.
    pub(super) async fn refuse<E: From<AuditUnavailable>>(
        &self,
        row: &TokenClientRow,
        reason: &'static str,
        err: E,
    ) -> E {
        if self.audit_token_events {
            let event = NewEvent::new(
                tenant_of(row),
                format!("client:{}", row.client_id),
                "token.refused",
                Some(format!("client:{}", row.client_id)),
            )
            .details(serde_json::json!({
                "client_id": row.client_id,
                "agent_id": row.agent_id,
                "reason": reason,
            }))
            .failed();
            if let Err(e) = self.audit.record(event).await {
                return e.into();
            }
        }
        err
    }

    /// Authenticates the client of a token, introspection or revocation request.
    pub async fn authenticate(
        &self,
        creds: &ClientCredentials,
        ip: Option<IpAddr>,
    ) -> Result<Arc<TokenClientRow>, ClientAuthError> {
        let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        let decision = self
            .limiter
            .check(&[
                Check::new(Action::TokenClient, &creds.client_id),
                Check::new(Action::TokenIp, &ip),
            ])
            .await;
        if !decision.allowed {
            return Err(ClientAuthError::RateLimited(decision));
        }
        let Some(row) = self.cache.get(&creds.client_id).await? else {
            tracing::info!(client_id = %creds.client_id, "client refused: unknown client");
            return Err(ClientAuthError::InvalidClient);
        };
        if let Some(reason) = refusal(&row, &creds.secret, self, OffsetDateTime::now_utc()) {
            return Err(self
                .refuse(&row, reason, ClientAuthError::InvalidClient)
                .await);
        }
        Ok(row)
    }
}
