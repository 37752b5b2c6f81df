//! Token exchange (RFC 8693): two grants behind one `grant_type`.
//!
//! **Federation** (`subject_token_type` `id_token` or `jwt`): an external OIDC token, with no
//! client authentication. It is verified ([`crate::federation`]) and matched against the
//! trust policies of its issuer and audience (one tenant's); the token issued is the bound
//! agent's, with the policy's scopes (narrowed by `scope`, and to the agent's capabilities),
//! the policy's lifetime, `client_id` `trust_policy:<id>` and `fed: {iss, sub}`. Each
//! external token is exchanged once (its `jti`, across instances, until it expires).
//!
//! **Delegation** (`subject_token_type` `access_token`): the authenticated client's agent
//! (the actor) presents a token of another agent of its tenant (the subject), and a
//! standing grant from the subject's current holder to the actor lets it act for the
//! subject. The token issued has the subject's `sub`, `act: {sub: <actor>, act: <prior
//! actors>}`, the actor's `client_id`, scopes within the subject token's and the grant's,
//! and a lifetime within the subject token's remaining one, the grant's end and the
//! issuer's lifetime (at least 60 s). Its `dlg` claim names every grant and subject token
//! of the chain, so that deleting a grant, revoking a subject token, or suspending any
//! agent of the chain revokes it at once on every service ([`platform::auth`]).
//!
//! Every failure is `invalid_grant` (`invalid_scope` for scopes); the reason is audited in
//! the tenant's chain when the tenant is known, never sent.

use std::time::Duration;

use domain::feed::actions::{TOKEN_EXCHANGED, TOKEN_REFUSED};
use domain::{AgentStatus, TenantStatus};
use platform::auth::{Actor, Claims, Federated, Link};
use platform::metering::Metric;
use platform::net::limit_subject;
use platform::rate_limit::{Action, Check};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::client_auth::ClientAuthError;
use super::grant::{GrantError, Granted, requested_scopes, token_type};
use super::issue::TokenSpec;
use super::request::{Exchange, SubjectType, TokenRequest, token_types};
use super::service::TokenService;
use crate::audit::event::NewEvent;
use crate::federation::{Matched, policy_client_id};
use crate::repo::delegations;

/// Shortest lifetime of an exchanged token.
pub const MIN_LIFETIME: i64 = 60;
/// Longest lifetime of a delegated token.
pub const MAX_LIFETIME: i64 = 86_400;

impl TokenService {
    /// `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`.
    pub(super) async fn exchange(
        &self,
        req: &TokenRequest,
        ex: &Exchange,
        jkt: Option<&str>,
    ) -> Result<Granted, GrantError> {
        match ex.subject {
            SubjectType::External => self.federated(req, ex, jkt).await,
            SubjectType::AccessToken => self.delegated(req, ex, jkt).await,
        }
    }

    /// Audits a refused exchange in `tenant`'s chain, then answers `err`.
    async fn refuse_exchange(
        &self,
        tenant: Option<Uuid>,
        actor: String,
        details: serde_json::Value,
        err: GrantError,
    ) -> GrantError {
        if let (Some(tenant), true) = (tenant, self.audit_token_events) {
            let event = NewEvent::new(tenant, actor, TOKEN_REFUSED, None)
                .details(details)
                .failed();
            if let Err(e) = self.audit.record(event).await {
                return e.into();
            }
        }
        err
    }

    /// Counts a failed exchange against the address's failure limit (429 past it).
    async fn exchange_failed(&self, req: &TokenRequest) -> Result<(), GrantError> {
        let subject = limit_subject(req.ip);
        let d = self
            .limiter
            .check(&[Check::new(Action::AuthFailureIp, &subject)])
            .await;
        if d.allowed {
            Ok(())
        } else {
            Err(ClientAuthError::RateLimited(d).into())
        }
    }

    async fn federated(
        &self,
        req: &TokenRequest,
        ex: &Exchange,
        jkt: Option<&str>,
    ) -> Result<Granted, GrantError> {
        let subject = limit_subject(req.ip);
        let d = self
            .limiter
            .check(&[Check::new(Action::TokenIp, &subject)])
            .await;
        if !d.allowed {
            return Err(ClientAuthError::RateLimited(d).into());
        }
        let found = self.federation.find(&ex.subject_token, ex.agent_id).await?;
        let (ext, m) = match found {
            Ok(Matched::One(b)) => *b,
            Ok(Matched::Ambiguous) => return Err(GrantError::AmbiguousAgent),
            Err(refused) => {
                self.exchange_failed(req).await?;
                let details = json!({"grant": "token_exchange", "kind": "federated", "reason": refused.reason});
                let err = GrantError::InvalidGrant(refused.reason);
                return Err(self
                    .refuse_exchange(refused.tenant, "anonymous".into(), details, err)
                    .await);
            }
        };
        let p = &m.policy;
        let actor = format!("federation:{}", p.id);
        let base = json!({
            "grant": "token_exchange", "kind": "federated", "trust_policy_id": p.id,
            "agent_id": p.agent_id,
            "external": {"iss": ext.iss, "sub": ext.sub, "jti": ext.jti},
        });
        let with_reason = |reason: &str| {
            let mut d = base.clone();
            d["reason"] = json!(reason);
            d
        };
        let refusal = match (m.agent_status, m.tenant_status) {
            (AgentStatus::Active, TenantStatus::Active) => None,
            (AgentStatus::Suspended, _) => Some("agent_suspended"),
            (AgentStatus::Decommissioned, _) => Some("agent_decommissioned"),
            (_, _) => Some("tenant_suspended"),
        };
        if let Some(reason) = refusal {
            let err = GrantError::InvalidGrant(reason);
            return Err(self
                .refuse_exchange(Some(p.tenant_id), actor, with_reason(reason), err)
                .await);
        }
        if self.quota.enforcing() {
            let verdict = self.quota.check(p.tenant_id, Metric::TokenIssuances).await;
            if let Some(e) = verdict.exceeded {
                return Err(GrantError::QuotaExceeded(Box::new(e)));
            }
        }
        let allowed: Vec<&str> = p
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| m.agent_capabilities.iter().any(|c| c == s))
            .collect();
        let requested = requested_scopes(req.scope.as_deref());
        let (scope, audience) = match self
            .scope_and_audience(
                Some(p.tenant_id),
                &req.audience,
                requested.as_deref(),
                &allowed,
            )
            .await
        {
            Ok(found) => found,
            Err((Some(reason), err)) => {
                return Err(self
                    .refuse_exchange(Some(p.tenant_id), actor, with_reason(reason), err)
                    .await);
            }
            Err((None, err)) => return Err(err),
        };
        if !self.federation.first_use(&ext, &ex.subject_token).await? {
            let err = GrantError::InvalidGrant("replayed");
            return Err(self
                .refuse_exchange(Some(p.tenant_id), actor, with_reason("replayed"), err)
                .await);
        }
        let agent = p.agent_id.to_string();
        let client_id = policy_client_id(p.id);
        let fed = Federated {
            iss: ext.iss.clone(),
            sub: ext.sub.clone(),
        };
        let issued = self.issuer.issue(TokenSpec {
            ttl: Some(Duration::from_secs(p.token_ttl_seconds.max(1) as u64)),
            fed: Some(&fed),
            jkt,
            ..TokenSpec::new(&agent, &client_id, Some(p.tenant_id), &scope, &audience)
        })?;
        let mut details = base;
        details["jti"] = json!(issued.jti);
        details["scope"] = json!(scope);
        details["aud"] = json!(audience);
        details["exp"] = json!(issued.exp);
        details["kid"] = json!(issued.kid);
        self.exchanged(
            p.tenant_id,
            actor,
            &issued.jti,
            details,
            &self.exchanged_federated,
        )
        .await?;
        Ok(Granted {
            issued,
            scope,
            issued_token_type: Some(token_types::ACCESS_TOKEN),
            token_type: token_type(jkt),
        })
    }

    /// Records an exchanged token (audit event before the answer, metering, and `counter`,
    /// the exchanges of its kind).
    async fn exchanged(
        &self,
        tenant: Uuid,
        actor: String,
        jti: &Uuid,
        details: serde_json::Value,
        counter: &metrics::Counter,
    ) -> Result<(), GrantError> {
        if self.audit_token_events {
            let event = NewEvent::new(tenant, actor, TOKEN_EXCHANGED, Some(format!("token:{jti}")))
                .details(details);
            self.audit.record(event).await?;
        }
        self.metering.add(tenant, Metric::TokenIssuances, 1);
        self.quota.record(tenant, Metric::TokenIssuances);
        self.tokens_issued.increment(1);
        counter.increment(1);
        Ok(())
    }

    async fn delegated(
        &self,
        req: &TokenRequest,
        ex: &Exchange,
        jkt: Option<&str>,
    ) -> Result<Granted, GrantError> {
        let creds = req
            .credentials
            .as_ref()
            .ok_or(ClientAuthError::InvalidClient)?;
        let row = self.authenticate(creds, req.ip, &req.url).await?;
        let actor = format!("client:{}", row.client_id);
        let refuse = |reason: &'static str, err: GrantError| {
            let details = json!({
                "grant": "token_exchange", "kind": "delegated", "client_id": row.client_id,
                "actor_agent_id": row.agent_id, "reason": reason,
            });
            self.refuse_exchange(row.tenant_id, actor.clone(), details, err)
        };
        if row.dpop_bound && jkt.is_none() {
            return Err(refuse("dpop_required", GrantError::DpopRequired).await);
        }
        let (Some(actor_agent), Some(tenant)) = (row.agent_id, row.tenant_id) else {
            return Err(refuse(
                "actor_not_an_agent",
                GrantError::InvalidGrant("actor_not_an_agent"),
            )
            .await);
        };
        let subject = match self.subjects.decode(&ex.subject_token).await {
            Ok(c) => c,
            Err(_) => {
                return Err(refuse(
                    "subject_token_invalid",
                    GrantError::InvalidGrant("subject_token_invalid"),
                )
                .await);
            }
        };
        match self.subjects.is_revoked(&subject).await {
            Ok(false) => {}
            Ok(true) => {
                return Err(refuse(
                    "subject_token_revoked",
                    GrantError::InvalidGrant("subject_token_revoked"),
                )
                .await);
            }
            Err(e) => return Err(GrantError::Failure(anyhow::anyhow!("{e}").into())),
        }
        let checked = check_subject(&subject, tenant, actor_agent);
        let (delegator, depth) = match checked {
            Ok(found) => found,
            Err(reason) => return Err(refuse(reason, GrantError::InvalidGrant(reason)).await),
        };
        let grants = {
            let c = self.db.get().await?;
            delegations::between(&c, delegator, actor_agent).await?
        };
        if grants.is_empty() {
            return Err(refuse("no_delegation", GrantError::InvalidGrant("no_delegation")).await);
        }
        let held: Vec<&str> = subject.scope.split(' ').filter(|s| !s.is_empty()).collect();
        let requested = requested_scopes(req.scope.as_deref());
        // The first grant that covers the request (all of what the subject and grant share
        // when nothing is requested).
        let chosen = grants.iter().find_map(|g| {
            let shared: Vec<&str> = held
                .iter()
                .copied()
                .filter(|s| g.scopes.iter().any(|x| x == s))
                .collect();
            let ok = match &requested {
                Some(r) => r.iter().all(|s| shared.contains(s)),
                None => !shared.is_empty(),
            };
            ok.then_some((g, shared))
        });
        let Some((grant, shared)) = chosen else {
            let bad = requested
                .iter()
                .flatten()
                .find(|s| {
                    !held.contains(s) || grants.iter().all(|g| !g.scopes.iter().any(|x| x == *s))
                })
                .map_or_else(|| "(none shared)".to_owned(), |s| (*s).to_owned());
            return Err(refuse("invalid_scope", GrantError::InvalidScope(bad)).await);
        };
        let limit = subject
            .dlg
            .iter()
            .map(|l| i64::from(l.max_depth))
            .chain([i64::from(grant.max_depth)])
            .min()
            .unwrap_or(1);
        if depth as i64 > limit {
            return Err(refuse("depth", GrantError::InvalidGrant("depth")).await);
        }
        let now = OffsetDateTime::now_utc();
        let mut remaining = subject.exp - now.unix_timestamp();
        if let Some(end) = grant.expires_at {
            remaining = remaining.min((end - now).whole_seconds());
        }
        let lifetime = remaining
            .min(self.issuer.ttl().as_secs() as i64)
            .min(MAX_LIFETIME);
        if lifetime < MIN_LIFETIME {
            return Err(refuse(
                "subject_token_expiring",
                GrantError::InvalidGrant("subject_token_expiring"),
            )
            .await);
        }
        let (scope, audience) = match self
            .scope_and_audience(Some(tenant), &req.audience, requested.as_deref(), &shared)
            .await
        {
            Ok(found) => found,
            Err((Some(reason), err)) => return Err(refuse(reason, err).await),
            Err((None, err)) => return Err(err),
        };
        let act = Actor {
            sub: actor_agent.to_string(),
            act: subject.act.clone().map(Box::new),
        };
        let mut dlg = subject.dlg.clone();
        dlg.push(Link {
            grant: grant.id.to_string(),
            jti: subject.jti.clone(),
            client_id: subject.client_id.clone(),
            max_depth: grant.max_depth.clamp(1, 5) as u8,
        });
        let issued = self.issuer.issue(TokenSpec {
            ttl: Some(Duration::from_secs(lifetime as u64)),
            act: Some(&act),
            dlg: &dlg,
            jkt,
            ..TokenSpec::new(
                &subject.sub,
                &row.client_id,
                Some(tenant),
                &scope,
                &audience,
            )
        })?;
        let details = json!({
            "grant": "token_exchange", "kind": "delegated", "delegation_id": grant.id,
            "agent_id": subject.sub, "actor_agent_id": actor_agent, "client_id": row.client_id,
            "subject_jti": subject.jti, "depth": depth, "jti": issued.jti, "scope": scope,
            "aud": audience, "exp": issued.exp, "kid": issued.kid,
        });
        self.exchanged(
            tenant,
            actor,
            &issued.jti,
            details,
            &self.exchanged_delegated,
        )
        .await?;
        Ok(Granted {
            issued,
            scope,
            issued_token_type: Some(token_types::ACCESS_TOKEN),
            token_type: token_type(jkt),
        })
    }
}

/// The agent a subject token's holder is (its current actor, else its subject) and the
/// depth of the chain the exchange would make; or why it cannot be exchanged by
/// `actor` of `tenant`.
fn check_subject(
    subject: &Claims,
    tenant: Uuid,
    actor: Uuid,
) -> Result<(Uuid, usize), &'static str> {
    if subject.tenant_id != Some(tenant) {
        return Err("cross_tenant");
    }
    let holder = subject
        .act
        .as_ref()
        .map_or(subject.sub.as_str(), |a| a.sub.as_str());
    let Ok(holder) = Uuid::parse_str(holder) else {
        return Err("subject_not_an_agent");
    };
    let in_chain = subject.sub == actor.to_string()
        || subject
            .act
            .iter()
            .flat_map(Actor::chain)
            .any(|a| a.sub == actor.to_string());
    if in_chain {
        return Err("actor_in_chain");
    }
    let depth = subject.act.as_ref().map_or(0, Actor::depth) + 1;
    Ok((holder, depth))
}
