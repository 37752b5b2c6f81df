//! Introspection (RFC 7662) and revocation (RFC 7009) of access tokens, and the revocation
//! check other services ask when Redis cannot answer.
//!
//! A caller authenticates with a bearer token (`tokens:read`, or `internal` for services)
//! or as a client, and is limited per caller (`oauth_caller`: the client, or the bearer
//! token's client; the address is limited by the per-IP limit of every public route).
//! Introspection answers only about tokens of the caller's tenant (services: any). A client
//! may revoke its own tokens; a tenant-admin client holding `tokens:read`, a
//! `tokens:read` bearer or a service any token of its tenant. Unknown, invalid or foreign
//! tokens are inactive, and revoking them succeeds without effect, as RFC 7009 asks.

use std::sync::Arc;

use domain::revocation::RevocationQuery;
use domain::{ClientKind, Scope};
use platform::auth::{AuthError, Claims, Verifier};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::client_auth::ClientAuthError;
use super::request::{Caller, ManagementRequest};
use super::service::TokenService;
use crate::audit::change::Changes;
use crate::audit::event::{NewEvent, SYSTEM_TENANT};
use crate::repo::revocations;
use platform::Failure;

/// Why an introspection or revocation request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectionError {
    /// The bearer token was refused.
    #[error(transparent)]
    Bearer(#[from] AuthError),
    /// The bearer token lacks `tokens:read`.
    #[error("requires the scope tokens:read")]
    InsufficientScope,
    /// The client was not authenticated.
    #[error(transparent)]
    ClientAuth(#[from] ClientAuthError),
    /// No `token` parameter.
    #[error("token is required")]
    TokenRequired,
    /// A client without rights over other clients' tokens tried to revoke one.
    #[error("this client may only revoke its own tokens")]
    UnauthorizedClient,
    /// `issued_at_ms` of a revocation check is out of range.
    #[error("is out of range")]
    IssuedAtOutOfRange,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(IntrospectionError);

/// Who is calling.
#[derive(Debug)]
struct Who {
    client_id: String,
    tenant: Option<Uuid>,
    /// A tenant-admin client, or a bearer with `tokens:read`.
    manages_tenant_tokens: bool,
    /// A service (scope `internal`, or a service client).
    internal: bool,
}

/// Introspects and revokes tokens.
#[derive(Debug, Clone)]
pub struct Introspection {
    verifier: Verifier,
    tokens: Arc<TokenService>,
    changes: Changes,
}

impl Introspection {
    /// Verifies bearer callers and tokens with `verifier`, authenticates client callers
    /// with `tokens`, records revocations with `changes`.
    pub fn new(verifier: Verifier, tokens: Arc<TokenService>, changes: Changes) -> Self {
        Self {
            verifier,
            tokens,
            changes,
        }
    }

    async fn caller(&self, req: &ManagementRequest) -> Result<Who, IntrospectionError> {
        match &req.caller {
            Caller::Bearer(token) => {
                let claims = self.verifier.verify(token).await?;
                if claims.cnf.is_some() {
                    return Err(AuthError::Scheme(
                        "a DPoP-bound token cannot be a Bearer caller; authenticate as the client",
                    )
                    .into());
                }
                let internal = claims.has_scope(Scope::Internal);
                if !internal && !claims.has_scope(Scope::TokensRead) {
                    return Err(IntrospectionError::InsufficientScope);
                }
                self.tokens.limit_caller(&claims.client_id).await?;
                Ok(Who {
                    client_id: claims.client_id.clone(),
                    tenant: claims.tenant_id,
                    manages_tenant_tokens: true,
                    internal,
                })
            }
            Caller::Client(creds) => {
                let row = self
                    .tokens
                    .authenticate_caller(creds, req.ip, &req.url)
                    .await?;
                Ok(Who {
                    client_id: row.client_id.clone(),
                    tenant: row.tenant_id,
                    // An admin client restricted to other scopes does not.
                    manages_tenant_tokens: row.kind == ClientKind::TenantAdmin
                        && row
                            .scopes
                            .iter()
                            .flatten()
                            .any(|s| s == Scope::TokensRead.as_str()),
                    internal: row.kind == ClientKind::Service,
                })
            }
        }
    }

    /// The caller and the claims of the token it names, when that token is valid and the
    /// caller may see it.
    async fn visible_token(
        &self,
        req: &ManagementRequest,
    ) -> Result<(Who, Option<Claims>), IntrospectionError> {
        let who = self.caller(req).await?;
        let token = req
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or(IntrospectionError::TokenRequired)?;
        let claims = match self.verifier.decode(token).await {
            Ok(c) if who.internal || (who.tenant.is_some() && c.tenant_id == who.tenant) => Some(c),
            _ => None,
        };
        Ok((who, claims))
    }

    /// The token's claims when it is active and the caller may see it; `None` otherwise.
    pub async fn introspect(
        &self,
        req: &ManagementRequest,
    ) -> Result<Option<Claims>, IntrospectionError> {
        let Some(claims) = self.visible_token(req).await?.1 else {
            return Ok(None);
        };
        if self.verifier.is_revoked(&claims).await? {
            return Ok(None);
        }
        Ok(Some(claims))
    }

    /// Revokes the token until it expires, if it is valid and the caller may see it.
    pub async fn revoke(&self, req: &ManagementRequest) -> Result<(), IntrospectionError> {
        let (who, claims) = self.visible_token(req).await?;
        let Some(claims) = claims else {
            return Ok(());
        };
        let own = claims.client_id == who.client_id;
        if !(own || who.internal || who.manages_tenant_tokens) {
            return Err(IntrospectionError::UnauthorizedClient);
        }
        let expires_at =
            OffsetDateTime::from_unix_timestamp(claims.exp).map_err(anyhow::Error::from)?;
        let mut change = self.changes.begin().await?;
        change
            .revoke_token(&claims.jti, claims.tenant_id, expires_at)
            .await?;
        change.event(
            NewEvent::new(
                claims.tenant_id.unwrap_or(SYSTEM_TENANT),
                format!("client:{}", who.client_id),
                "token.revoked",
                Some(format!("token:{}", claims.jti)),
            )
            .details(json!({"jti": claims.jti, "client_id": claims.client_id, "sub": claims.sub})),
        );
        change.commit().await?;
        Ok(())
    }

    /// Whether a token is revoked, from PostgreSQL.
    pub async fn is_revoked(&self, q: &RevocationQuery) -> Result<bool, IntrospectionError> {
        let c = self.changes.db().get().await?;
        let issued =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(q.issued_at_ms) * 1_000_000)
                .map_err(|_| IntrospectionError::IssuedAtOutOfRange)?;
        Ok(revocations::covers(&c, q, issued).await?)
    }
}
