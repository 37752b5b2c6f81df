//! Every rule's error as an HTTP answer, in one place: RFC 6749 bodies for the OAuth
//! endpoints, problem+json for the rest.

use actix_web::http::{StatusCode, header};
use platform::ApiError;

use crate::agents::{AgentError, PrivilegeError};
use crate::audit::log::AuditLogError;
use crate::audit::writer::AuditUnavailable;
use crate::credentials::CredentialError;
use crate::delegations::DelegationError;
use crate::federation::TrustPolicyError;
use crate::resource_servers::ResourceServerError;
use crate::tenants::TenantError;
use crate::tenants::clients::AdminClientError;
use crate::tenants::signup::SignupError;
use crate::tokens::client_auth::ClientAuthError;
use crate::tokens::grant::GrantError;
use crate::tokens::introspection::IntrospectionError;
use crate::tokens::issue::IssueError;
use crate::tokens::request::RequestError;
use crate::webhooks::subscriptions::SubscriptionError;

/// An RFC 6749 error with status 400.
fn bad_request(error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, error, description)
}

/// An RFC 6749 `invalid_client` (401 with a Basic challenge).
fn invalid_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        "Basic realm=\"agentidp\", charset=\"UTF-8\"",
    )
}

impl From<AuditUnavailable> for ApiError {
    fn from(e: AuditUnavailable) -> Self {
        ApiError::unavailable("audit_unavailable", e.to_string(), 1)
    }
}

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::NoSigningKey => ApiError::unavailable("no_signing_key", e.to_string(), 1),
            IssueError::Signing(source) => ApiError::internal(source),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Invalid(d) => bad_request("invalid_request", d),
            RequestError::UnsupportedGrantType(_) => {
                bad_request("unsupported_grant_type", e.to_string())
            }
            RequestError::InvalidClient => invalid_client(),
        }
    }
}

impl From<ClientAuthError> for ApiError {
    fn from(e: ClientAuthError) -> Self {
        match e {
            ClientAuthError::InvalidClient => invalid_client(),
            ClientAuthError::RateLimited(decision) => {
                let mut err =
                    ApiError::oauth(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string());
                for (k, v) in decision.headers() {
                    err = err.with_header(k, v.to_str().unwrap_or_default());
                }
                err
            }
            ClientAuthError::Audit(e) => e.into(),
            ClientAuthError::Failure(e) => e.0,
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        match e {
            GrantError::ClientAuth(e) => e.into(),
            GrantError::QuotaExceeded(q) => {
                ApiError::oauth(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", q.detail())
                    .with_header(header::RETRY_AFTER, &q.retry_after_secs.to_string())
            }
            GrantError::InvalidScope(_) | GrantError::NoScopeForTarget(_) => {
                bad_request("invalid_scope", e.to_string())
            }
            GrantError::AudienceAndResource => bad_request("invalid_request", e.to_string()),
            GrantError::InvalidTarget => bad_request("invalid_target", e.to_string()),
            GrantError::InvalidGrant(_) => bad_request("invalid_grant", e.to_string()),
            GrantError::AmbiguousAgent => bad_request("invalid_request", e.to_string()),
            GrantError::InvalidDpopProof(_) | GrantError::DpopRequired => {
                bad_request("invalid_dpop_proof", e.to_string())
            }
            GrantError::UseDpopNonce(ref nonce) => bad_request("use_dpop_nonce", e.to_string())
                .with_header(header::HeaderName::from_static("dpop-nonce"), nonce),
            GrantError::Issue(e) => e.into(),
            GrantError::Audit(e) => e.into(),
            GrantError::Failure(e) => e.0,
        }
    }
}

impl From<IntrospectionError> for ApiError {
    fn from(e: IntrospectionError) -> Self {
        match e {
            IntrospectionError::Bearer(e) => e.into(),
            IntrospectionError::InsufficientScope => {
                ApiError::forbidden("insufficient_scope", e.to_string())
            }
            IntrospectionError::ClientAuth(e) => e.into(),
            IntrospectionError::TokenRequired => bad_request("invalid_request", e.to_string()),
            IntrospectionError::UnauthorizedClient => {
                bad_request("unauthorized_client", e.to_string())
            }
            IntrospectionError::IssuedAtOutOfRange => {
                ApiError::invalid_field("issued_at_ms", e.to_string())
            }
            IntrospectionError::Failure(e) => e.0,
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Invalid(errors) => ApiError::validation(errors),
            AgentError::NotFound => ApiError::not_found("agent"),
            AgentError::Decommissioned(detail) => {
                ApiError::conflict("agent_decommissioned", detail)
            }
            AgentError::Gone(detail) => {
                ApiError::new(StatusCode::GONE, "agent_decommissioned", detail)
            }
            AgentError::QuotaExceeded { tier, max } => {
                ApiError::forbidden("quota_exceeded", e.to_string())
                    .with_extra("limit", "max_agents".into())
                    .with_extra("tier", tier.as_str().into())
                    .with_extra("max", max.into())
            }
            AgentError::Privilege(e) => e.into(),
            AgentError::Failure(e) => e.0,
        }
    }
}

impl From<PrivilegeError> for ApiError {
    fn from(e: PrivilegeError) -> Self {
        match e {
            PrivilegeError::PlatformScopeNeedsAdmin(ref scope) => {
                ApiError::forbidden("platform_scope_needs_admin", e.to_string())
                    .with_extra("scope", scope.as_str().into())
            }
            PrivilegeError::ScopeNotHeld(ref scope) => {
                ApiError::forbidden("scope_not_held", e.to_string())
                    .with_extra("scope", scope.as_str().into())
            }
            PrivilegeError::OwnCapabilities => {
                ApiError::forbidden("own_capabilities", e.to_string())
            }
        }
    }
}

impl From<CredentialError> for ApiError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::Invalid(errors) => ApiError::validation(errors),
            CredentialError::AgentNotFound => ApiError::not_found("agent"),
            CredentialError::NotFound => ApiError::not_found("credential"),
            CredentialError::AgentDecommissioned => {
                ApiError::conflict("agent_decommissioned", e.to_string())
            }
            CredentialError::Revoked => ApiError::conflict("credential_revoked", e.to_string()),
            CredentialError::Privilege(e) => e.into(),
            CredentialError::Failure(e) => e.0,
        }
    }
}

impl From<TenantError> for ApiError {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::Invalid(errors) => ApiError::validation(errors),
            TenantError::NotFound => ApiError::not_found("tenant"),
            TenantError::Failure(e) => e.0,
        }
    }
}

impl From<ResourceServerError> for ApiError {
    fn from(e: ResourceServerError) -> Self {
        match e {
            ResourceServerError::Invalid(errors) => ApiError::validation(errors),
            ResourceServerError::NotFound => ApiError::not_found("resource server"),
            ResourceServerError::Exists => {
                ApiError::conflict("resource_server_exists", e.to_string())
            }
            ResourceServerError::LimitReached => {
                ApiError::conflict("resource_server_limit", e.to_string())
            }
            ResourceServerError::Failure(e) => e.0,
        }
    }
}

impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::Invalid(errors) => ApiError::validation(errors),
            SignupError::RateLimited(decision) => decision.to_error(),
            SignupError::InvitationRequired => {
                ApiError::forbidden("invitation_required", e.to_string())
            }
            SignupError::InvitationInvalid => {
                ApiError::forbidden("invitation_invalid", e.to_string())
            }
            SignupError::Failure(e) => e.0,
        }
    }
}

impl From<AdminClientError> for ApiError {
    fn from(e: AdminClientError) -> Self {
        match e {
            AdminClientError::Invalid(errors) => ApiError::validation(errors),
            AdminClientError::NotFound => ApiError::not_found("client"),
            AdminClientError::TenantNotFound => ApiError::not_found("tenant"),
            AdminClientError::ScopeNotHeld(ref scope) => {
                ApiError::forbidden("scope_not_held", e.to_string())
                    .with_extra("scope", scope.as_str().into())
            }
            AdminClientError::LastAdmin => ApiError::conflict("last_admin_client", e.to_string()),
            AdminClientError::TooMany => ApiError::conflict("admin_client_limit", e.to_string()),
            AdminClientError::Failure(e) => e.0,
        }
    }
}

impl From<SubscriptionError> for ApiError {
    fn from(e: SubscriptionError) -> Self {
        match e {
            SubscriptionError::Invalid(errors) => ApiError::validation(errors),
            SubscriptionError::NotFound => ApiError::not_found("webhook"),
            SubscriptionError::LimitReached => ApiError::conflict("webhook_limit", e.to_string()),
            SubscriptionError::DeliveryNotFound => ApiError::not_found("delivery"),
            SubscriptionError::DeliveryPending => {
                ApiError::conflict("delivery_pending", e.to_string())
            }
            SubscriptionError::Failure(e) => e.0,
        }
    }
}

impl From<AuditLogError> for ApiError {
    fn from(e: AuditLogError) -> Self {
        match e {
            AuditLogError::NotFound => ApiError::not_found("audit event"),
            AuditLogError::RateLimited(decision) => decision.to_error(),
            AuditLogError::Busy => ApiError::too_many_requests(
                "verify_busy",
                "a verification of this chain is already running, or this instance runs as many as it may; try again shortly",
                1,
            ),
            AuditLogError::Failure(e) => e.0,
        }
    }
}

impl From<TrustPolicyError> for ApiError {
    fn from(e: TrustPolicyError) -> Self {
        match e {
            TrustPolicyError::Invalid(errors) => ApiError::validation(errors),
            TrustPolicyError::Privilege(e) => e.into(),
            TrustPolicyError::NotFound => ApiError::not_found("trust policy"),
            TrustPolicyError::AudienceTaken => ApiError::conflict("audience_taken", e.to_string()),
            TrustPolicyError::LimitReached => {
                ApiError::conflict("trust_policy_limit", e.to_string())
            }
            TrustPolicyError::Failure(e) => e.0,
        }
    }
}

impl From<DelegationError> for ApiError {
    fn from(e: DelegationError) -> Self {
        match e {
            DelegationError::Invalid(errors) => ApiError::validation(errors),
            DelegationError::Privilege(e) => e.into(),
            DelegationError::Forbidden => ApiError::forbidden("insufficient_scope", e.to_string()),
            DelegationError::NotFound(what) => ApiError::not_found(what),
            DelegationError::LimitReached => ApiError::conflict("delegation_limit", e.to_string()),
            DelegationError::Failure(e) => e.0,
        }
    }
}
