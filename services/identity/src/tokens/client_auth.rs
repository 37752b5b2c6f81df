//! Client authentication (RFC 6749 §2.3.1) for the token, introspection and revocation
//! endpoints: the client from the credential cache, its secret (current, or previous during
//! a rotation grace period) in constant time, the client, agent and tenant state, and then
//! the limits.
//!
//! A successful authentication counts against the client's own budget (token endpoint: per
//! client and per address; introspection and revocation: per caller), in one Redis round
//! trip. A failed one counts only against the failure limits, per client and address and
//! per address (`auth_failure`, `auth_failure_ip`); past them further failures are answered
//! 429 instead of `invalid_client`. Failures never spend the client's budget, and valid
//! credentials are never refused because of failures, the client's own or anyone else's.
//!
//! Every refusal of a known client is audited with its reason (in bounded numbers, see
//! [`super::refusals`]), while the client only learns `invalid_client` (the reason would help
//! an attacker).

use std::net::IpAddr;
use std::sync::Arc;

use domain::{AgentStatus, ClientKind, ClientStatus, TenantStatus};
use platform::net::limit_subject;
use platform::rate_limit::{Action, Check, Decision};
use time::OffsetDateTime;
use uuid::Uuid;

use super::request::{ClientCredentials, Proof};
use super::service::TokenService;
use crate::audit::event::SYSTEM_TENANT;
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
    /// The client, its address or the caller sent too many requests, or too many failed.
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

/// Why a known client's secret was refused (audited, never sent).
fn secret_refusal(
    row: &TokenClientRow,
    secret: &str,
    svc: &TokenService,
    now: OffsetDateTime,
) -> Option<&'static str> {
    if row.keys.is_some() {
        return Some("secret_for_key_client");
    }
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
    None
}

/// Why a known client may not authenticate now, whatever its proof (audited, never sent).
fn state_refusal(row: &TokenClientRow, now: OffsetDateTime) -> Option<&'static str> {
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

/// The budget a successful authentication is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// The token endpoint's, per client and per address.
    Token,
    /// Introspection's and revocation's, per caller (the address is counted by the
    /// per-IP limit of every public route).
    Caller,
}

impl TokenService {
    /// Audits the refusal of a known client (when token events are audited; repeated
    /// refusals are counted, see [`super::refusals`]), then answers `err`; when the audit log
    /// cannot record it, the request fails for that reason.
    pub(super) async fn refuse<E: From<AuditUnavailable>>(
        &self,
        row: &TokenClientRow,
        reason: &'static str,
        err: E,
    ) -> E {
        if self.audit_token_events
            && let Err(e) = self.refusals.record(row, tenant_of(row), reason).await
        {
            return e.into();
        }
        err
    }

    /// Authenticates the client of a token request, and counts it against the client's and
    /// the address's token limits.
    pub async fn authenticate(
        &self,
        creds: &ClientCredentials,
        ip: Option<IpAddr>,
        url: &str,
    ) -> Result<Arc<TokenClientRow>, ClientAuthError> {
        self.authenticate_for(creds, ip, url, Budget::Token).await
    }

    /// Authenticates the caller of an introspection or revocation request, and counts it
    /// against the caller's limit.
    pub async fn authenticate_caller(
        &self,
        creds: &ClientCredentials,
        ip: Option<IpAddr>,
        url: &str,
    ) -> Result<Arc<TokenClientRow>, ClientAuthError> {
        self.authenticate_for(creds, ip, url, Budget::Caller).await
    }

    /// Counts an introspection or revocation request of an authenticated caller (a client,
    /// or the client of a bearer token) against the caller's limit.
    pub async fn limit_caller(&self, client_id: &str) -> Result<(), ClientAuthError> {
        let decision = self
            .limiter
            .check(&[Check::new(Action::OAuthCaller, client_id)])
            .await;
        if decision.allowed {
            Ok(())
        } else {
            Err(ClientAuthError::RateLimited(decision))
        }
    }

    async fn authenticate_for(
        &self,
        creds: &ClientCredentials,
        ip: Option<IpAddr>,
        url: &str,
        budget: Budget,
    ) -> Result<Arc<TokenClientRow>, ClientAuthError> {
        let subject = limit_subject(ip);
        let Some(row) = self.lookup(&creds.client_id, &subject).await? else {
            self.unknown_clients.increment(1);
            return Err(self.failed(None, &subject).await);
        };
        let now = OffsetDateTime::now_utc();
        let proof_refusal = match (&creds.proof, &row.keys) {
            (Proof::Secret(secret), _) => secret_refusal(&row, secret, self, now),
            (Proof::Assertion(a), Some(keys)) => self
                .assertions
                .verify(&row.client_id, keys, a, url)
                .await?
                .err(),
            (Proof::Assertion(_), None) => Some("assertion_for_secret_client"),
        };
        if let Some(reason) = proof_refusal.or_else(|| state_refusal(&row, now)) {
            return Err(self.failed(Some((&row, reason)), &subject).await);
        }
        match budget {
            Budget::Token => {
                let decision = self
                    .limiter
                    .check(&[
                        Check::new(Action::TokenClient, &row.client_id),
                        Check::new(Action::TokenIp, &subject),
                    ])
                    .await;
                if !decision.allowed {
                    return Err(ClientAuthError::RateLimited(decision));
                }
            }
            Budget::Caller => self.limit_caller(&row.client_id).await?,
        }
        Ok(row)
    }

    /// The client from the cache; for an address past its failure limit, a lookup of a
    /// client this instance has never found (which would reach PostgreSQL) waits for one of
    /// a few permits ([`super::suspects`]). A known client's refresh never waits there, so
    /// valid clients behind the same address are not starved by someone else's flood.
    async fn lookup(
        &self,
        client_id: &str,
        subject: &str,
    ) -> Result<Option<Arc<TokenClientRow>>, ClientAuthError> {
        if self.suspects.contains(subject)
            && !self.cache.is_fresh(client_id)
            && !self.cache.has_seen(client_id)
        {
            let _permit = self.suspect_lookups.acquire().await;
            return Ok(self.cache.get(client_id).await?);
        }
        Ok(self.cache.get(client_id).await?)
    }

    /// A failed authentication (`refused`: of a known client, with the reason): counted
    /// against the failure limits, per client and address and per address, and answered
    /// `invalid_client`, or 429 past either limit. A known client's refusal is audited.
    async fn failed(
        &self,
        refused: Option<(&TokenClientRow, &'static str)>,
        subject: &str,
    ) -> ClientAuthError {
        let decision = match refused {
            Some((row, _)) => {
                let pair = format!("{}|{subject}", row.client_id);
                self.limiter
                    .check(&[
                        Check::new(Action::AuthFailure, &pair),
                        Check::new(Action::AuthFailureIp, subject),
                    ])
                    .await
            }
            None => {
                self.limiter
                    .check(&[Check::new(Action::AuthFailureIp, subject)])
                    .await
            }
        };
        let err = if decision.allowed {
            ClientAuthError::InvalidClient
        } else {
            self.suspects.mark(subject, decision.retry_after);
            ClientAuthError::RateLimited(decision)
        };
        match refused {
            Some((row, reason)) => self.refuse(row, reason, err).await,
            None => err,
        }
    }
}
