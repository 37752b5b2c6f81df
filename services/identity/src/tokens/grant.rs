//! The client_credentials grant: the rules between a parsed request and a signed token.
//!
//! Order: per-client and per-IP limits (one Redis round trip); the client from the credential
//! cache; its secret (current, or previous during a rotation grace period) in constant time;
//! client, agent and tenant state; scope and audience; signing; the audit event, committed
//! before the answer; metering. Every refusal of a known client is audited with its reason,
//! while the client only learns `invalid_client` (the reason would help an attacker).

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use platform::ApiError;
use platform::metering::Metric;
use platform::rate_limit::{Action, Check};
use time::OffsetDateTime;

use super::client_auth::{self, Params, invalid_client, invalid_request};
use super::issue::{Issued, TokenSpec};
use crate::audit::{NewEvent, SYSTEM_TENANT};
use crate::repo::clients::TokenClientRow;
use crate::startup::AppState;

/// A granted token.
#[derive(Debug)]
pub struct Granted {
    /// The token.
    pub issued: Issued,
    /// Its scopes, space-separated.
    pub scope: String,
}

/// Most bytes of an audience value.
const MAX_AUDIENCE: usize = 256;

/// Scopes the client may receive.
pub fn allowed_scopes(row: &TokenClientRow) -> Vec<&str> {
    match row.kind.as_str() {
        "agent" => {
            let caps = row.agent_capabilities.as_deref().unwrap_or(&[]);
            match &row.scopes {
                Some(restricted) => restricted
                    .iter()
                    .filter(|s| caps.contains(s))
                    .map(String::as_str)
                    .collect(),
                None => caps.iter().map(String::as_str).collect(),
            }
        }
        _ => row.scopes.iter().flatten().map(String::as_str).collect(),
    }
}

/// Why a known client was refused (audited, never sent).
fn refusal(
    row: &TokenClientRow,
    secret: &str,
    state: &AppState,
    now: OffsetDateTime,
) -> Option<&'static str> {
    let current = state.pepper.verify(secret, &row.secret_hash);
    let previous = !current
        && row.previous_secret_expires_at.is_some_and(|t| t > now)
        && row
            .previous_secret_hash
            .as_deref()
            .is_some_and(|h| state.pepper.verify(secret, h));
    if !current && !previous {
        return Some("wrong_secret");
    }
    if row.status != "active" {
        return Some("credential_revoked");
    }
    if row.expires_at.is_some_and(|t| t <= now) {
        return Some("credential_expired");
    }
    if row.kind == "agent" && row.agent_status.as_deref() != Some("active") {
        return Some(match row.agent_status.as_deref() {
            Some("suspended") => "agent_suspended",
            _ => "agent_decommissioned",
        });
    }
    if row.tenant_id.is_some() && row.tenant_status.as_deref() != Some("active") {
        return Some("tenant_suspended");
    }
    None
}

fn tenant_of(row: &TokenClientRow) -> uuid::Uuid {
    row.tenant_id.unwrap_or(SYSTEM_TENANT)
}

async fn refuse(
    state: &AppState,
    row: &TokenClientRow,
    reason: &'static str,
    err: ApiError,
) -> ApiError {
    if state.config.audit_token_events {
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
        if let Err(e) = state.audit.record(event).await {
            return e;
        }
    }
    err
}

/// Authenticates the client of a token, introspection or revocation request: per-client
/// and per-IP limits (one Redis round trip), then the credential cache, the secret and the
/// client, agent and tenant state. Refusals of known clients are audited.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    p: &Params,
    ip: Option<IpAddr>,
) -> Result<Arc<TokenClientRow>, ApiError> {
    let creds = client_auth::credentials(headers, p)?;
    let ip = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let decision = state
        .core
        .limiter
        .check(&[
            Check::new(Action::TokenClient, &creds.client_id),
            Check::new(Action::TokenIp, &ip),
        ])
        .await;
    if !decision.allowed {
        let mut err = ApiError::oauth(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests ({})", decision.action.name()),
        );
        for (k, v) in decision.headers() {
            err = err.with_header(k, v.to_str().unwrap_or_default());
        }
        return Err(err);
    }
    let Some(row) = state.cache.get(&creds.client_id).await? else {
        tracing::info!(client_id = %creds.client_id, "client refused: unknown client");
        return Err(invalid_client());
    };
    if let Some(reason) = refusal(&row, &creds.secret, state, OffsetDateTime::now_utc()) {
        return Err(refuse(state, &row, reason, invalid_client()).await);
    }
    Ok(row)
}

/// `grant_type=client_credentials`.
pub async fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    p: &Params,
    ip: Option<IpAddr>,
) -> Result<Granted, ApiError> {
    // When tiers are enforced, the tenant's daily token quota is read alongside the rate
    // limits (both commands share one round trip on the multiplexed connection) when the
    // client was seen before; only a client unknown to this instance pays a second round
    // trip. Otherwise nothing is read.
    let quota = &state.core.quota;
    let enforcing = quota.enforcing();
    let hint = if enforcing {
        client_auth::credentials(headers, p)
            .ok()
            .and_then(|c| state.cache.peek_tenant(&c.client_id))
    } else {
        None
    };
    let early = async {
        match hint {
            Some(t) => Some((t, quota.check(t, Metric::TokenIssuances).await)),
            None => None,
        }
    };
    let (row, early) = tokio::join!(authenticate(state, headers, p, ip), early);
    let row = row?;
    if let Some(tenant) = row.tenant_id.filter(|_| enforcing) {
        let verdict = match early {
            Some((t, v)) if t == tenant => v,
            _ => quota.check(tenant, Metric::TokenIssuances).await,
        };
        if let Some(e) = verdict.exceeded {
            let err = ApiError::oauth(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", e.detail())
                .with_header(
                    actix_web::http::header::RETRY_AFTER,
                    &e.retry_after_secs.to_string(),
                );
            return Err(refuse(state, &row, "quota_exceeded", err).await);
        }
    }
    let allowed = allowed_scopes(&row);
    let scope = match p.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => allowed.join(" "),
        Some(requested) => {
            let mut wanted: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            wanted.sort_unstable();
            wanted.dedup();
            if let Some(bad) = wanted.iter().find(|s| !allowed.contains(s)) {
                let err = ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    format!("scope {bad} is not granted to this client"),
                );
                return Err(refuse(state, &row, "invalid_scope", err).await);
            }
            wanted.join(" ")
        }
    };

    let audience = match (p.audience.as_deref(), p.resource.as_deref()) {
        (Some(_), Some(_)) => return Err(invalid_request("send audience or resource, not both")),
        (Some(a), None) | (None, Some(a)) => {
            if a.is_empty()
                || a.len() > MAX_AUDIENCE
                || a.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(ApiError::oauth(
                    StatusCode::BAD_REQUEST,
                    "invalid_target",
                    "audience must be 1 to 256 characters without spaces",
                ));
            }
            a
        }
        (None, None) => state.issuer.issuer(),
    };

    let sub = match (&row.agent_id, row.kind.as_str()) {
        (Some(agent), _) => agent.to_string(),
        _ => row.client_id.clone(),
    };
    let issued = state.issuer.issue(TokenSpec {
        sub: &sub,
        client_id: &row.client_id,
        tenant_id: row.tenant_id,
        scope: &scope,
        aud: audience,
    })?;

    if state.config.audit_token_events {
        let event = NewEvent::new(
            tenant_of(&row),
            format!("client:{}", row.client_id),
            "token.issued",
            Some(format!("token:{}", issued.jti)),
        )
        .details(serde_json::json!({
            "client_id": row.client_id,
            "agent_id": row.agent_id,
            "jti": issued.jti,
            "scope": scope,
            "aud": audience,
            "exp": issued.exp,
            "kid": issued.kid,
        }));
        state.audit.record(event).await?;
    }
    if let Some(tenant) = row.tenant_id {
        state.metering.add(tenant, Metric::TokenIssuances, 1);
        quota.record(tenant, Metric::TokenIssuances);
    }
    state.tokens_issued.increment(1);
    Ok(Granted { issued, scope })
}
