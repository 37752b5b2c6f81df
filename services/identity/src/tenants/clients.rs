//! Tenant-admin clients: the OAuth clients a tenant manages itself with, each with a name
//! and a non-empty subset of the platform scopes. The signup client is the first; more are
//! created, rotated (with an optional grace period, as agent credentials) and deleted
//! through `/api/v1/tenants/me/clients`, and `identity tenant-admin-reset` makes one for an
//! operator whose tenant lost every admin secret.
//!
//! A caller hands out, rotates or deletes only clients whose scopes it holds itself, so no
//! client can mint a stronger one. The last client holding `admin:tenant` cannot be deleted;
//! changes to a tenant's set of admin clients take the tenant's row lock, so two concurrent
//! deletions cannot both pass that check. Deleting a client revokes every token issued to it
//! (published to every verifier before the answer) and drops it from the credential cache.

use domain::Scope;
use platform::Failure;
use platform::db::Client;
use platform::errors::FieldError;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::change::{Change, Changes, Effect};
use crate::audit::event::{NewEvent, format_time};
use crate::client_keys;
use crate::credentials::RotateInput;
use crate::crypto::{self, Pepper};
use crate::repo::admin_clients::{self as repo, AdminClientRow, NewAdminClient};
use crate::repo::clients;
use crate::repo::tenants;
use crate::tokens::revocation::Kind;
use domain::feed::actions;

/// Most active admin clients a tenant may have.
pub const MAX_ADMIN_CLIENTS: i64 = 50;

/// The name of a client made by `identity tenant-admin-reset`.
pub const RESET_NAME: &str = "tenant-admin-reset";

/// Body of `POST /api/v1/tenants/me/clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdminClientInput {
    /// What the client is for (1 to 100 characters).
    name: String,
    /// Platform scopes, at least one.
    scopes: Vec<String>,
    /// `client_secret` (default) or `private_key_jwt`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// private_key_jwt: the client's public keys.
    jwks: Option<serde_json::Value>,
    /// private_key_jwt: where the client publishes them.
    jwks_uri: Option<String>,
    /// Its tokens must be DPoP-bound.
    dpop_bound: Option<bool>,
}

/// The API representation of an admin client (never its secret).
pub fn to_json(c: &AdminClientRow) -> serde_json::Value {
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "scopes": c.scopes,
        "created_at": format_time(c.created_at),
        "rotated_at": c.rotated_at.map(format_time),
        "previous_secret_expires_at": c.previous_secret_expires_at.map(format_time),
    })
}

/// An admin client with its secret, as created or rotated (shown once).
pub fn with_secret(c: &AdminClientRow, secret: Option<&str>) -> serde_json::Value {
    let mut v = to_json(c);
    match secret {
        Some(secret) => v["client_secret"] = secret.into(),
        None => v["type"] = "private_key_jwt".into(),
    }
    v
}

/// Why an admin-client rule refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such active admin client of the tenant.
    #[error("client not found")]
    NotFound,
    /// The caller does not hold a scope it would hand out or take over.
    #[error("the caller does not hold {0}, so it cannot give it or act on a client that has it")]
    ScopeNotHeld(String),
    /// The client is the tenant's last one holding `admin:tenant` (409).
    #[error(
        "the last client holding admin:tenant cannot be deleted; create another admin client first"
    )]
    LastAdmin,
    /// The tenant has as many admin clients as allowed (409).
    #[error("a tenant has at most {MAX_ADMIN_CLIENTS} admin clients; delete one first")]
    TooMany,
    /// No such tenant (`identity tenant-admin-reset`).
    #[error("tenant not found")]
    TenantNotFound,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(AdminClientError);

/// Whether the space-separated scopes `held` contain `scope`.
fn holds(held: &str, scope: &str) -> bool {
    held.split(' ').any(|h| h == scope)
}

/// Refuses unless the caller holds every one of `scopes`.
fn must_hold(held: &str, scopes: &[String]) -> Result<(), AdminClientError> {
    match scopes.iter().find(|s| !holds(held, s)) {
        Some(missing) => Err(AdminClientError::ScopeNotHeld(missing.clone())),
        None => Ok(()),
    }
}

/// The requested scopes as platform scopes, in their canonical order; problems are added to
/// `errors`, naming `scopes[i]`.
fn platform_scopes(errors: &mut Vec<FieldError>, raw: &[String]) -> Vec<String> {
    if raw.is_empty() {
        errors.push(FieldError::new(
            "scopes",
            "must name at least one platform scope",
        ));
    }
    let mut wanted = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        match s.parse::<Scope>() {
            Ok(scope) if Scope::TENANT_ADMIN.contains(&scope) => wanted.push(scope),
            _ => errors.push(FieldError::new(
                format!("scopes[{i}]"),
                format!("must be a platform scope: {}", all_scopes().join(", ")),
            )),
        }
    }
    Scope::TENANT_ADMIN
        .iter()
        .filter(|s| wanted.contains(s))
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Every platform scope (the signup client's and a reset client's).
pub fn all_scopes() -> Vec<String> {
    Scope::TENANT_ADMIN
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect()
}

/// Stores a new admin client of `tenant` in the transaction `tx`; returns it with its secret.
pub async fn store(
    tx: &Client,
    pepper: &Pepper,
    tenant: Uuid,
    name: &str,
    scopes: &[String],
) -> Result<(AdminClientRow, String), Failure> {
    let client_id = crypto::new_client_id()?;
    let secret = crypto::new_client_secret()?;
    let hash = pepper.hash(&secret);
    let new = NewAdminClient {
        id: Uuid::now_v7(),
        client_id: &client_id,
        secret_hash: &hash,
        tenant,
        name,
        scopes,
    };
    Ok((repo::insert(tx, new).await?, secret))
}

/// The audit event of an admin-client change.
fn event(tenant: Uuid, actor: &str, action: &'static str, row: &AdminClientRow) -> NewEvent {
    NewEvent::new(
        tenant,
        actor,
        action,
        Some(format!("client:{}", row.client_id)),
    )
}

/// Lists, creates, rotates and deletes tenant-admin clients.
#[derive(Debug)]
pub struct AdminClients {
    changes: Changes,
    pepper: Pepper,
    /// `FEDERATION_ALLOWED_NETWORKS`: where plain-http `jwks_uri`s may be.
    allowed: Vec<platform::net::Cidr>,
}

impl AdminClients {
    /// Clients stored and changed through `changes`, secrets hashed with `pepper`;
    /// plain-http `jwks_uri`s only inside `allowed`.
    pub fn new(changes: Changes, pepper: Pepper, allowed: Vec<platform::net::Cidr>) -> Self {
        Self {
            changes,
            pepper,
            allowed,
        }
    }

    /// The tenant's admin clients, oldest first.
    pub async fn list(&self, tenant: Uuid) -> Result<Vec<AdminClientRow>, AdminClientError> {
        let c = self.changes.db().get().await?;
        Ok(repo::list(&c, tenant).await?)
    }

    /// Creates an admin client with scopes the caller (`actor`, holding `held`) has itself;
    /// returns it with its secret.
    pub async fn create(
        &self,
        tenant: Uuid,
        actor: &str,
        held: &str,
        input: NewAdminClientInput,
    ) -> Result<(AdminClientRow, Option<String>), AdminClientError> {
        let mut errors = Vec::new();
        let name = super::valid_text(&mut errors, "name", &input.name, 100);
        let scopes = platform_scopes(&mut errors, &input.scopes);
        let keys = client_keys::requested(
            input.kind.as_deref(),
            input.jwks.as_ref(),
            input.jwks_uri.as_deref(),
            &self.allowed,
            &mut errors,
        );
        let dpop_bound = input.dpop_bound.unwrap_or(false);
        if !errors.is_empty() {
            return Err(AdminClientError::Invalid(errors));
        }
        must_hold(held, &scopes)?;
        let mut change = self.changes.begin().await?;
        if !tenants::lock(change.tx(), tenant).await? {
            return Err(AdminClientError::TenantNotFound);
        }
        if repo::count(change.tx(), tenant).await? >= MAX_ADMIN_CLIENTS {
            return Err(AdminClientError::TooMany);
        }
        let (row, secret) = self
            .created(&mut change, tenant, actor, &name, &scopes)
            .await?;
        if keys.is_some() || dpop_bound {
            let (jwks, uri) = keys.clone().unwrap_or_default();
            clients::set_keys(
                change.tx(),
                row.id,
                jwks.as_ref(),
                uri.as_deref(),
                dpop_bound,
            )
            .await?;
        }
        change.commit().await?;
        Ok((row, keys.is_none().then_some(secret)))
    }

    /// Stores a client in `change` and records `tenant.client.created`.
    async fn created(
        &self,
        change: &mut Change<'_>,
        tenant: Uuid,
        actor: &str,
        name: &str,
        scopes: &[String],
    ) -> Result<(AdminClientRow, String), AdminClientError> {
        let (row, secret) = store(change.tx(), &self.pepper, tenant, name, scopes).await?;
        change.event(
            event(tenant, actor, actions::TENANT_CLIENT_CREATED, &row).details(
                json!({"client_id": row.client_id, "name": row.name, "scopes": row.scopes}),
            ),
        );
        Ok((row, secret))
    }

    /// Rotates a client's secret (the caller must hold all its scopes); returns it with the
    /// new secret.
    pub async fn rotate(
        &self,
        tenant: Uuid,
        actor: &str,
        held: &str,
        client_id: &str,
        input: RotateInput,
    ) -> Result<(AdminClientRow, String), AdminClientError> {
        let until = input
            .previous_until(OffsetDateTime::now_utc())
            .map_err(|e| AdminClientError::Invalid(vec![e]))?;
        let mut change = self.changes.begin().await?;
        let current = repo::get_for_update(change.tx(), tenant, client_id)
            .await?
            .ok_or(AdminClientError::NotFound)?;
        must_hold(held, &current.scopes)?;
        if clients::is_key_client(change.tx(), current.id).await? {
            return Err(AdminClientError::Invalid(vec![FieldError::new(
                "type",
                "a private_key_jwt client has no secret to rotate",
            )]));
        }
        let secret = crypto::new_client_secret()?;
        let row = repo::rotate(
            change.tx(),
            tenant,
            client_id,
            &self.pepper.hash(&secret),
            until,
        )
        .await?;
        change
            .event(
                event(tenant, actor, actions::TENANT_CLIENT_ROTATED, &row).details(json!({
                    "client_id": row.client_id,
                    "previous_secret_expires_at": until.map(format_time),
                })),
            )
            .after_commit(Effect::InvalidateClient(row.client_id.clone()));
        change.commit().await?;
        Ok((row, secret))
    }

    /// Deletes a client (the caller must hold all its scopes) and revokes its tokens; the
    /// tenant's last client holding `admin:tenant` stays.
    pub async fn delete(
        &self,
        tenant: Uuid,
        actor: &str,
        held: &str,
        client_id: &str,
    ) -> Result<(), AdminClientError> {
        let mut change = self.changes.begin().await?;
        // One change to the tenant's admin clients at a time: a concurrent deletion waits
        // here and then counts what this one left.
        if !tenants::lock(change.tx(), tenant).await? {
            return Err(AdminClientError::NotFound);
        }
        let row = repo::get_for_update(change.tx(), tenant, client_id)
            .await?
            .ok_or(AdminClientError::NotFound)?;
        must_hold(held, &row.scopes)?;
        let admin = Scope::AdminTenant.as_str();
        if row.scopes.iter().any(|s| s == admin)
            && repo::others_holding(change.tx(), tenant, client_id, admin).await? == 0
        {
            return Err(AdminClientError::LastAdmin);
        }
        repo::revoke(change.tx(), tenant, client_id).await?;
        change
            .revoke_all(Kind::Client, client_id, Some(tenant))
            .await?;
        change
            .event(
                event(tenant, actor, actions::TENANT_CLIENT_DELETED, &row)
                    .details(json!({"client_id": row.client_id, "name": row.name})),
            )
            .after_commit(Effect::InvalidateClient(row.client_id.clone()));
        change.commit().await?;
        Ok(())
    }

    /// `identity tenant-admin-reset`: a new client with every platform scope for `tenant`,
    /// audited with actor `system`; returns it with its secret.
    pub async fn reset(&self, tenant: Uuid) -> Result<(AdminClientRow, String), AdminClientError> {
        let mut change = self.changes.begin().await?;
        if !tenants::lock(change.tx(), tenant).await? {
            return Err(AdminClientError::TenantNotFound);
        }
        let (row, secret) = self
            .created(&mut change, tenant, "system", RESET_NAME, &all_scopes())
            .await?;
        change.commit().await?;
        Ok((row, secret))
    }
}
