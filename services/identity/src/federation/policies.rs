//! Creating, reading, changing and deleting a tenant's trust policies; each change one
//! audited change (`federation.policy.*`) that this instance's token endpoint sees at once
//! and the others within the policy cache's lifetime.
//!
//! Rules: the bound agent is the tenant's and not decommissioned; the policy's scopes are
//! among the agent's capabilities, and the caller may give them (platform scopes need
//! `admin:tenant`, see [`crate::agents::privileges`]); an (issuer, audience) pair belongs to
//! one tenant, so no external token can ever match two tenants' policies; the default
//! audience (`<PUBLIC_URL>/tenants/<tenant id>`) is the tenant's alone.

use domain::feed::actions::{
    FEDERATION_POLICY_CREATED, FEDERATION_POLICY_DELETED, FEDERATION_POLICY_UPDATED,
};
use domain::{AgentStatus, FederationProvider};
use platform::Failure;
use platform::db::Db;
use platform::errors::FieldError;
use platform::net::Cidr;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::cache::PolicyCache;
use super::conditions::{self, GITHUB_ISSUER};
use super::issuers::plain_http_allowed;
use crate::agents::{Grantor, PrivilegeError};
use crate::audit::change::Change;
use crate::audit::event::{NewEvent, format_time, micros};
use crate::repo::agents;
use crate::repo::federation::{self as repo, TrustPolicyRow};

/// Most trust policies per tenant.
pub const MAX_PER_TENANT: i64 = 50;
/// Bounds of a policy's token lifetime, in seconds.
pub const TTL_BOUNDS: (u32, u32) = (60, 86_400);
/// Longest issuer or audience, in bytes.
const MAX_URI: usize = 512;

/// Body of `POST /api/v1/federation/trust-policies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTrustPolicy {
    name: String,
    provider: FederationProvider,
    issuer: Option<String>,
    audience: Option<String>,
    agent_id: Uuid,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    conditions: Map<String, Value>,
    token_ttl_seconds: Option<u32>,
}

/// Body of `PATCH /api/v1/federation/trust-policies/{id}` (the provider cannot change).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustPolicyPatch {
    name: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    agent_id: Option<Uuid>,
    scopes: Option<Vec<String>>,
    conditions: Option<Map<String, Value>>,
    token_ttl_seconds: Option<u32>,
}

/// Why a trust-policy rule refused.
#[derive(Debug, thiserror::Error)]
pub enum TrustPolicyError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// The caller may not give a scope (403).
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// No such policy in the tenant.
    #[error("trust policy not found")]
    NotFound,
    /// Another tenant's policies accept this issuer and audience (409).
    #[error(
        "another tenant's trust policies accept tokens of this issuer for this audience; choose another audience"
    )]
    AudienceTaken,
    /// The tenant has [`MAX_PER_TENANT`] policies (409).
    #[error("a tenant may have at most {MAX_PER_TENANT} trust policies")]
    LimitReached,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(TrustPolicyError);

/// The API representation of a policy.
pub fn to_json(p: &TrustPolicyRow) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "provider": p.provider,
        "issuer": p.issuer,
        "audience": p.audience,
        "agent_id": p.agent_id,
        "scopes": p.scopes,
        "conditions": p.conditions,
        "token_ttl_seconds": p.token_ttl_seconds,
        "created_at": format_time(p.created_at),
        "updated_at": format_time(p.updated_at),
    })
}

/// A tenant's trust policies.
#[derive(Debug)]
pub struct TrustPolicies {
    db: Db,
    cache: PolicyCache,
    /// `PUBLIC_URL` without a trailing slash (the default audiences live under it).
    issuer: String,
    /// `FEDERATION_ALLOWED_NETWORKS`: where plain-http issuers may be.
    allowed: Vec<Cidr>,
    /// The platform's token lifetime: the default of a policy's.
    default_ttl: u32,
}

impl TrustPolicies {
    /// Policies stored in `db`, whose changes `cache` forgets at once.
    pub fn new(
        db: Db,
        cache: PolicyCache,
        issuer: String,
        allowed: Vec<Cidr>,
        default_ttl: u32,
    ) -> Self {
        Self {
            db,
            cache,
            issuer,
            allowed,
            default_ttl: default_ttl.clamp(TTL_BOUNDS.0, TTL_BOUNDS.1),
        }
    }

    fn default_audience(&self, tenant: Uuid) -> String {
        format!("{}/tenants/{tenant}", self.issuer)
    }

    /// An `https` URL (or `http` to an address of `FEDERATION_ALLOWED_NETWORKS`) without
    /// credentials, query or fragment.
    fn check_issuer(&self, s: &str, errors: &mut Vec<FieldError>) {
        let url = match reqwest::Url::parse(s) {
            Ok(u) if s.len() <= MAX_URI => u,
            _ => {
                errors.push(FieldError::new(
                    "issuer",
                    "must be an https URL of at most 512 characters",
                ));
                return;
            }
        };
        if url.scheme() != "https" && !plain_http_allowed(&url, &self.allowed) {
            errors.push(FieldError::new("issuer", "must be an https URL"));
        } else if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            errors.push(FieldError::new(
                "issuer",
                "must not carry credentials, a query or a fragment",
            ));
        }
    }

    fn check_audience(&self, tenant: Uuid, s: &str, errors: &mut Vec<FieldError>) {
        if s.is_empty() || s.len() > MAX_URI || s.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "audience",
                "must be 1 to 512 bytes without control characters",
            ));
        } else if s.starts_with(&format!("{}/tenants/", self.issuer))
            && s != self.default_audience(tenant)
        {
            errors.push(FieldError::new(
                "audience",
                "names another tenant's default audience",
            ));
        }
    }

    fn check_name(name: &str, errors: &mut Vec<FieldError>) {
        let n = name.chars().count();
        if n == 0 || n > 200 || name.chars().any(char::is_control) || name.trim() != name {
            errors.push(FieldError::new(
                "name",
                "must be 1 to 200 characters without control characters or surrounding spaces",
            ));
        }
    }

    fn check_ttl(ttl: u32, errors: &mut Vec<FieldError>) {
        if !(TTL_BOUNDS.0..=TTL_BOUNDS.1).contains(&ttl) {
            errors.push(FieldError::new("token_ttl_seconds", "must be 60 to 86400"));
        }
    }

    /// Checks the agent and the scopes inside the change (the agent row is locked).
    async fn check_agent_and_scopes(
        change: &Change<'_>,
        grantor: &Grantor,
        policy: &mut TrustPolicyRow,
        scopes_changed: bool,
    ) -> Result<(), TrustPolicyError> {
        let agent = agents::get(change.tx(), policy.tenant_id, policy.agent_id, false).await?;
        let Some(agent) = agent.filter(|a| a.status != AgentStatus::Decommissioned) else {
            return Err(TrustPolicyError::Invalid(vec![FieldError::new(
                "agent_id",
                "is not an agent of this tenant (or it is decommissioned)",
            )]));
        };
        let caps = agent.fields.capability_strs();
        let mut errors = Vec::new();
        let mut scopes: Vec<String> = Vec::new();
        for (i, s) in policy.scopes.iter().enumerate() {
            if !caps.contains(&s.as_str()) {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "is not a capability of the agent",
                ));
            } else if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        if !errors.is_empty() {
            return Err(TrustPolicyError::Invalid(errors));
        }
        if scopes_changed {
            grantor.may_bind(scopes.iter().map(String::as_str))?;
        }
        policy.scopes = scopes;
        Ok(())
    }

    /// Saves `policy` (new or changed) in `change`, after the tenant-wide rules.
    async fn save(
        &self,
        change: &Change<'_>,
        policy: &TrustPolicyRow,
        new: bool,
    ) -> Result<(), TrustPolicyError> {
        let (taken, count) = repo::lock_pair(
            change.tx(),
            policy.tenant_id,
            &policy.issuer,
            &policy.audience,
        )
        .await?;
        if taken {
            return Err(TrustPolicyError::AudienceTaken);
        }
        if new {
            if count >= MAX_PER_TENANT {
                return Err(TrustPolicyError::LimitReached);
            }
            repo::insert(change.tx(), policy).await?;
        } else {
            repo::update(change.tx(), policy).await?;
        }
        Ok(())
    }

    /// Creates a policy.
    pub async fn create(
        &self,
        tenant: Uuid,
        grantor: &Grantor,
        input: NewTrustPolicy,
    ) -> Result<TrustPolicyRow, TrustPolicyError> {
        let mut errors = Vec::new();
        Self::check_name(&input.name, &mut errors);
        let issuer = match (input.provider, input.issuer) {
            (_, Some(i)) => i,
            (FederationProvider::GithubActions, None) => GITHUB_ISSUER.to_owned(),
            (FederationProvider::Oidc, None) => {
                errors.push(FieldError::new("issuer", "is required for an oidc policy"));
                String::new()
            }
        };
        if !issuer.is_empty() {
            self.check_issuer(&issuer, &mut errors);
        }
        let audience = input
            .audience
            .unwrap_or_else(|| self.default_audience(tenant));
        self.check_audience(tenant, &audience, &mut errors);
        let conditions = conditions::check(input.provider, &input.conditions, &mut errors);
        let ttl = input.token_ttl_seconds.unwrap_or(self.default_ttl);
        Self::check_ttl(ttl, &mut errors);
        if !errors.is_empty() {
            return Err(TrustPolicyError::Invalid(errors));
        }
        let now = micros(OffsetDateTime::now_utc());
        let mut policy = TrustPolicyRow {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            name: input.name,
            provider: input.provider,
            issuer,
            audience,
            agent_id: input.agent_id,
            scopes: input.scopes,
            conditions,
            token_ttl_seconds: ttl as i32,
            created_at: now,
            updated_at: now,
        };
        let mut change = Change::begin(&self.db).await?;
        Self::check_agent_and_scopes(&change, grantor, &mut policy, true).await?;
        self.save(&change, &policy, true).await?;
        change.event(event(&grantor.actor, FEDERATION_POLICY_CREATED, &policy));
        change.commit().await?;
        self.cache.invalidate(&policy.issuer);
        Ok(policy)
    }

    /// Up to `limit` of a tenant's policies after `after`, in creation order.
    pub async fn list(
        &self,
        tenant: Uuid,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<TrustPolicyRow>, TrustPolicyError> {
        let c = self.db.get().await?;
        Ok(repo::list(&c, tenant, after, limit).await?)
    }

    /// One policy of a tenant.
    pub async fn get(&self, tenant: Uuid, id: Uuid) -> Result<TrustPolicyRow, TrustPolicyError> {
        let c = self.db.get().await?;
        repo::get(&c, tenant, id, false)
            .await?
            .ok_or(TrustPolicyError::NotFound)
    }

    /// Changes what the patch sets. Tokens already issued keep their scopes until they
    /// expire or are revoked.
    pub async fn update(
        &self,
        tenant: Uuid,
        grantor: &Grantor,
        id: Uuid,
        patch: TrustPolicyPatch,
    ) -> Result<TrustPolicyRow, TrustPolicyError> {
        let mut change = Change::begin(&self.db).await?;
        let mut p = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(TrustPolicyError::NotFound)?;
        let old_issuer = p.issuer.clone();
        let mut errors = Vec::new();
        if let Some(n) = patch.name {
            Self::check_name(&n, &mut errors);
            p.name = n;
        }
        if let Some(i) = patch.issuer {
            self.check_issuer(&i, &mut errors);
            p.issuer = i;
        }
        if let Some(a) = patch.audience {
            self.check_audience(tenant, &a, &mut errors);
            p.audience = a;
        }
        if let Some(c) = patch.conditions {
            p.conditions = conditions::check(p.provider, &c, &mut errors);
        }
        if let Some(t) = patch.token_ttl_seconds {
            Self::check_ttl(t, &mut errors);
            p.token_ttl_seconds = t as i32;
        }
        if !errors.is_empty() {
            return Err(TrustPolicyError::Invalid(errors));
        }
        let rebinds = patch.agent_id.is_some() || patch.scopes.is_some();
        if let Some(a) = patch.agent_id {
            p.agent_id = a;
        }
        if let Some(s) = patch.scopes {
            p.scopes = s;
        }
        Self::check_agent_and_scopes(&change, grantor, &mut p, rebinds).await?;
        p.updated_at = micros(OffsetDateTime::now_utc());
        self.save(&change, &p, false).await?;
        change.event(event(&grantor.actor, FEDERATION_POLICY_UPDATED, &p));
        change.commit().await?;
        self.cache.invalidate(&old_issuer);
        self.cache.invalidate(&p.issuer);
        Ok(p)
    }

    /// Deletes a policy: no further token is exchanged through it.
    pub async fn delete(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
    ) -> Result<(), TrustPolicyError> {
        let mut change = Change::begin(&self.db).await?;
        let p = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(TrustPolicyError::NotFound)?;
        repo::delete(change.tx(), tenant, id).await?;
        change.event(event(actor, FEDERATION_POLICY_DELETED, &p));
        change.commit().await?;
        self.cache.invalidate(&p.issuer);
        Ok(())
    }
}

fn event(actor: &str, action: &'static str, p: &TrustPolicyRow) -> NewEvent {
    NewEvent::new(
        p.tenant_id,
        actor,
        action,
        Some(format!("trust_policy:{}", p.id)),
    )
    .details(json!({ "trust_policy": to_json(p) }))
}
