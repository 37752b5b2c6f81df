//! Grants: the rules between a parsed [`TokenRequest`] and a signed token. Each grant type
//! is a variant of [`Grant`]: `client_credentials` here, token exchange (federation and
//! delegation) in [`super::exchange`].
//!
//! Order: client authentication ([`super::client_auth`]); the tenant's daily token quota
//! (when tiers are enforced); scope; audience; signing; the audit event, committed before
//! the answer; metering.
//!
//! The audience (RFC 8707) is the platform API (the issuer) unless the request names a
//! resource server of the client's tenant ([`crate::resource_servers`]); anything else is
//! `invalid_target`. A token for a resource server has its identifier as the only `aud` and
//! carries only the requested (or, when none is requested, allowed) scopes it defines.

use domain::ClientKind;
use platform::Failure;
use platform::auth::dpop;
use platform::metering::Metric;
use platform::quota::Exceeded;

use super::client_auth::{ClientAuthError, tenant_of};
use super::issue::{IssueError, Issued, TokenSpec};
use super::request::{Audience, Grant, TokenRequest};
use super::service::TokenService;
use crate::audit::event::NewEvent;
use crate::audit::writer::AuditUnavailable;
use crate::repo::clients::TokenClientRow;

/// A granted token.
#[derive(Debug)]
pub struct Granted {
    /// The token.
    pub issued: Issued,
    /// Its scopes, space-separated.
    pub scope: String,
    /// `issued_token_type` (token exchange answers carry it, RFC 8693 §2.2.1).
    pub issued_token_type: Option<&'static str>,
    /// `token_type`: `DPoP` for a DPoP-bound token, else `Bearer`.
    pub token_type: &'static str,
}

/// Why no token was granted.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The client was not authenticated.
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// The tenant's daily token quota is used up.
    #[error("{}", .0.detail())]
    QuotaExceeded(Box<Exceeded>),
    /// A requested scope is not the client's.
    #[error("scope {0} is not granted to this client")]
    InvalidScope(String),
    /// None of the requested scopes is defined by the named resource server.
    #[error("none of the requested scopes is defined by the resource server {0}")]
    NoScopeForTarget(String),
    /// `audience` and `resource` both sent.
    #[error("send audience or resource, not both")]
    AudienceAndResource,
    /// The audience is neither the platform API nor a resource server of the client's
    /// tenant.
    #[error(
        "the audience must be the platform API or the identifier of a resource server registered by this client's tenant"
    )]
    InvalidTarget,
    /// The token could not be signed.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The issuance could not be audited.
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
    /// `invalid_grant`: the subject token, or what it would be exchanged through (trust
    /// policy, delegation), does not allow the exchange (the reason is audited, never
    /// sent).
    #[error("the subject token cannot be exchanged")]
    InvalidGrant(&'static str),
    /// Several agents' trust policies match the external token: the request must name one
    /// with `agent_id`.
    #[error("several agents' trust policies match this token; name one with agent_id")]
    AmbiguousAgent,
    /// The `DPoP` proof is invalid, replayed or stale (400 `invalid_dpop_proof`).
    #[error("{0}")]
    InvalidDpopProof(&'static str),
    /// The proof lacks the server's current nonce, which the answer carries (400
    /// `use_dpop_nonce` with `DPoP-Nonce`).
    #[error("{}", dpop::USE_DPOP_NONCE)]
    UseDpopNonce(String),
    /// The client's tokens must be DPoP-bound and the request has no proof.
    #[error("this client's tokens must be DPoP-bound: send a DPoP proof")]
    DpopRequired,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(GrantError);

/// `token_type` of a token bound (or not) to a DPoP key.
pub fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// The requested scopes (`scope`), sorted and without duplicates; `None` when none are.
pub fn requested_scopes(scope: Option<&str>) -> Option<Vec<&str>> {
    scope
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|requested| {
            let mut wanted: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        })
}

/// Whom a token is for.
enum Target<'a> {
    /// The platform API (the issuer).
    Platform,
    /// A resource server of the client's tenant: its identifier and the scopes it defines.
    Server(&'a str, &'a [String]),
}

/// Scopes the client may receive.
pub fn allowed_scopes(row: &TokenClientRow) -> Vec<&str> {
    match row.kind {
        ClientKind::Agent => {
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

impl TokenService {
    /// Grants what `req` asks for.
    pub async fn token(&self, req: &TokenRequest) -> Result<Granted, GrantError> {
        let jkt = match &req.dpop {
            Some(proof) => Some(self.dpop_key(proof, req).await?),
            None => None,
        };
        let jkt = jkt.as_deref();
        match &req.grant {
            Grant::ClientCredentials => self.client_credentials(req, jkt).await,
            Grant::TokenExchange(exchange) => self.exchange(req, exchange, jkt).await,
        }
    }

    /// The thumbprint of the key of a token request's `DPoP` proof (RFC 9449 §4.3), whose
    /// `jti` is then used up.
    async fn dpop_key(&self, proof: &str, req: &TokenRequest) -> Result<String, GrantError> {
        let path = req.url.splitn(4, '/').nth(3).unwrap_or_default();
        let public = format!("{}/{path}", self.issuer.issuer());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let p = dpop::verify(
            proof,
            dpop::Expected {
                method: "POST",
                urls: &[req.url.as_str(), public.as_str()],
                access_token: None,
                now,
                nonces: self.subjects.dpop_nonces(),
            },
        )
        .map_err(|e| match self.subjects.dpop_nonces() {
            Some(n) if e == dpop::USE_DPOP_NONCE => GrantError::UseDpopNonce(n.current(now)),
            _ => GrantError::InvalidDpopProof(e),
        })?;
        let until = p.iat + dpop::MAX_AGE_SECS;
        if !self.replays.first_use("dpop", &p.jti, until).await? {
            return Err(GrantError::InvalidDpopProof(
                "the DPoP proof was used before",
            ));
        }
        Ok(p.jkt)
    }

    /// `grant_type=client_credentials`.
    async fn client_credentials(
        &self,
        req: &TokenRequest,
        jkt: Option<&str>,
    ) -> Result<Granted, GrantError> {
        let creds = req
            .credentials
            .as_ref()
            .ok_or(ClientAuthError::InvalidClient)?;
        // When tiers are enforced, the tenant's daily token quota is read alongside the rate
        // limits (both commands share one round trip on the multiplexed connection) when the
        // client was seen before; only a client unknown to this instance pays a second round
        // trip. Otherwise nothing is read.
        let quota = &self.quota;
        let enforcing = quota.enforcing();
        let hint = if enforcing {
            self.cache.peek_tenant(&creds.client_id)
        } else {
            None
        };
        let early = async {
            match hint {
                Some(t) => Some((t, quota.check(t, Metric::TokenIssuances).await)),
                None => None,
            }
        };
        let (row, early) = tokio::join!(self.authenticate(creds, req.ip, &req.url), early);
        let row = row?;
        if let Some(tenant) = row.tenant_id.filter(|_| enforcing) {
            let verdict = match early {
                Some((t, v)) if t == tenant => v,
                _ => quota.check(tenant, Metric::TokenIssuances).await,
            };
            if let Some(e) = verdict.exceeded {
                let err = GrantError::QuotaExceeded(Box::new(e));
                return Err(self.refuse(&row, "quota_exceeded", err).await);
            }
        }
        if row.dpop_bound && jkt.is_none() {
            return Err(self
                .refuse(&row, "dpop_required", GrantError::DpopRequired)
                .await);
        }
        let allowed = allowed_scopes(&row);
        let requested = requested_scopes(req.scope.as_deref());
        let (scope, audience) = match self
            .scope_and_audience(row.tenant_id, &req.audience, requested.as_deref(), &allowed)
            .await
        {
            Ok(found) => found,
            Err((Some(reason), err)) => return Err(self.refuse(&row, reason, err).await),
            Err((None, err)) => return Err(err),
        };
        let sub = match &row.agent_id {
            Some(agent) => agent.to_string(),
            None => row.client_id.clone(),
        };
        let issued = self.issuer.issue(TokenSpec {
            jkt,
            ..TokenSpec::new(&sub, &row.client_id, row.tenant_id, &scope, &audience)
        })?;

        if self.audit_token_events {
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
            self.audit.record(event).await?;
        }
        if let Some(tenant) = row.tenant_id {
            self.metering.add(tenant, Metric::TokenIssuances, 1);
            quota.record(tenant, Metric::TokenIssuances);
        }
        self.tokens_issued.increment(1);
        Ok(Granted {
            issued,
            scope,
            issued_token_type: None,
            token_type: token_type(jkt),
        })
    }

    /// The scope and audience of a token for a client of `tenant` that may receive
    /// `allowed` and asks for `requested` (all of `allowed` when `None`) for `audience`.
    /// The audience (RFC 8707) is the platform API unless the request names a resource
    /// server of the tenant (cached per tenant); a refusal comes with the reason to audit
    /// (none for a malformed request).
    pub(super) async fn scope_and_audience(
        &self,
        tenant: Option<uuid::Uuid>,
        audience: &Audience,
        requested: Option<&[&str]>,
        allowed: &[&str],
    ) -> Result<(String, String), (Option<&'static str>, GrantError)> {
        if let Some(bad) = requested
            .iter()
            .copied()
            .flatten()
            .find(|s| !allowed.contains(s))
        {
            let err = GrantError::InvalidScope((*bad).to_owned());
            return Err((Some("invalid_scope"), err));
        }
        let named = match audience {
            Audience::Both => return Err((None, GrantError::AudienceAndResource)),
            Audience::Named(a) if a != self.issuer.issuer() => Some(a.as_str()),
            Audience::Named(_) | Audience::Issuer => None,
        };
        let servers = match (named, tenant) {
            (Some(_), Some(tenant)) => Some(
                self.audiences
                    .of(tenant)
                    .await
                    .map_err(|e| (None, GrantError::from(e)))?,
            ),
            _ => None,
        };
        let target = match named {
            None => Target::Platform,
            Some(a) => match servers.as_deref().and_then(|s| s.scopes_of(a)) {
                Some(defined) => Target::Server(a, defined),
                None => return Err((Some("invalid_target"), GrantError::InvalidTarget)),
            },
        };
        Ok(match target {
            Target::Platform => (
                requested.unwrap_or(allowed).join(" "),
                self.issuer.issuer().to_owned(),
            ),
            Target::Server(identifier, defined) => {
                let kept: Vec<&str> = requested
                    .unwrap_or(allowed)
                    .iter()
                    .copied()
                    .filter(|s| defined.iter().any(|d| d == s))
                    .collect();
                if kept.is_empty() && requested.is_some() {
                    let err = GrantError::NoScopeForTarget(identifier.to_owned());
                    return Err((Some("invalid_scope"), err));
                }
                (kept.join(" "), identifier.to_owned())
            }
        })
    }
}
