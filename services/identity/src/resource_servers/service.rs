//! Registering, reading, changing and removing a tenant's resource servers; each change one
//! audited change that this instance's token endpoint sees at once.

use domain::Capability;
use domain::feed::actions::{
    RESOURCE_SERVER_CREATED, RESOURCE_SERVER_DELETED, RESOURCE_SERVER_UPDATED,
};
use domain::scope::is_platform_scope;
use platform::Failure;
use platform::db::Db;
use platform::errors::FieldError;
use reqwest::Url;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audiences::Audiences;
use crate::audit::change::Change;
use crate::audit::event::{NewEvent, format_time, micros};
use crate::repo::resource_servers::{self as repo, ResourceServerRow};

/// Most resource servers per tenant.
pub const MAX_PER_TENANT: i64 = 50;
/// Longest identifier, in bytes.
pub const MAX_IDENTIFIER: usize = 256;
/// Longest name, in characters.
const MAX_NAME: usize = 200;

/// Body of `POST /api/v1/resource-servers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewResourceServer {
    identifier: String,
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// Body of `PATCH /api/v1/resource-servers/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerPatch {
    identifier: Option<String>,
    name: Option<String>,
    scopes: Option<Vec<String>>,
}

/// Why a resource-server rule refused.
#[derive(Debug, thiserror::Error)]
pub enum ResourceServerError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such resource server in the tenant.
    #[error("resource server not found")]
    NotFound,
    /// A resource server with this identifier is registered, by this tenant or another
    /// (409): identifiers are unique across tenants, since all tenants' tokens share the
    /// issuer.
    #[error("a resource server with this identifier is already registered")]
    Exists,
    /// The tenant has [`MAX_PER_TENANT`] resource servers (409).
    #[error("a tenant may have at most {MAX_PER_TENANT} resource servers")]
    LimitReached,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(ResourceServerError);

/// The API representation of a resource server.
pub fn to_json(rs: &ResourceServerRow) -> serde_json::Value {
    json!({
        "id": rs.id,
        "identifier": rs.identifier,
        "name": rs.name,
        "scopes": rs.scopes,
        "created_at": format_time(rs.created_at),
        "updated_at": format_time(rs.updated_at),
    })
}

/// A tenant's resource servers.
#[derive(Debug)]
pub struct ResourceServers {
    db: Db,
    audiences: Audiences,
    /// The platform API's audience (the issuer): never a resource server's identifier.
    platform: Url,
}

impl ResourceServers {
    /// Resource servers stored in `db`, whose changes `audiences` forgets at once; the
    /// platform API is `platform` (the issuer).
    pub fn new(db: Db, audiences: Audiences, platform: Url) -> Self {
        Self {
            db,
            audiences,
            platform,
        }
    }

    /// An absolute URI of at most [`MAX_IDENTIFIER`] bytes without a fragment (RFC 8707
    /// §2), other than the platform API's.
    fn identifier(&self, s: &str, errors: &mut Vec<FieldError>) {
        let problem = match Url::parse(s) {
            _ if s.is_empty() || s.len() > MAX_IDENTIFIER => {
                Some("must be 1 to 256 characters".to_owned())
            }
            _ if s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                Some("must be an absolute URI (e.g. https://api.example.com)".to_owned())
            }
            Err(_) => Some("must be an absolute URI (e.g. https://api.example.com)".to_owned()),
            Ok(u) if u.fragment().is_some() => Some("must not have a fragment".to_owned()),
            Ok(u) if same_resource(&u, &self.platform) => Some(format!(
                "is the platform API's audience ({}), which is not a resource server",
                self.platform.as_str().trim_end_matches('/')
            )),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            errors.push(FieldError::new("identifier", p));
        }
    }

    /// The servers' scopes, duplicates dropped; platform scopes are refused.
    fn scopes(scopes: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
        if scopes.len() > Capability::MAX_PER_AGENT {
            errors.push(FieldError::new("scopes", "at most 64 scopes"));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for (i, s) in scopes.iter().enumerate() {
            if is_platform_scope(s) {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "is reserved to the platform API",
                ));
            } else if Capability::parse(s).is_err() || s.trim() != s {
                errors.push(FieldError::new(
                    format!("scopes[{i}]"),
                    "must be resource:action in lowercase letters, digits and _.- (e.g. documents:read)",
                ));
            } else if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    fn name(name: &str, errors: &mut Vec<FieldError>) {
        let n = name.chars().count();
        if n == 0 || n > MAX_NAME || name.chars().any(char::is_control) || name.trim() != name {
            errors.push(FieldError::new(
                "name",
                "must be 1 to 200 characters without control characters or surrounding spaces",
            ));
        }
    }

    /// Registers a resource server.
    pub async fn create(
        &self,
        tenant: Uuid,
        actor: &str,
        input: NewResourceServer,
    ) -> Result<ResourceServerRow, ResourceServerError> {
        let mut errors = Vec::new();
        self.identifier(&input.identifier, &mut errors);
        Self::name(&input.name, &mut errors);
        let scopes = Self::scopes(&input.scopes, &mut errors);
        if !errors.is_empty() {
            return Err(ResourceServerError::Invalid(errors));
        }
        let now = micros(OffsetDateTime::now_utc());
        let row = ResourceServerRow {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            identifier: input.identifier,
            name: input.name,
            scopes,
            created_at: now,
            updated_at: now,
        };
        let mut change = Change::begin(&self.db).await?;
        if repo::lock_tenant_and_count(change.tx(), tenant).await? >= MAX_PER_TENANT {
            return Err(ResourceServerError::LimitReached);
        }
        if !repo::insert(change.tx(), &row).await? {
            return Err(ResourceServerError::Exists);
        }
        change.event(event(actor, RESOURCE_SERVER_CREATED, &row));
        self.commit(change, tenant).await?;
        Ok(row)
    }

    /// Up to `limit` of a tenant's resource servers after `after`, in creation order.
    pub async fn list(
        &self,
        tenant: Uuid,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<ResourceServerRow>, ResourceServerError> {
        let c = self.db.get().await?;
        Ok(repo::list(&c, tenant, after, limit).await?)
    }

    /// One resource server of a tenant.
    pub async fn get(
        &self,
        tenant: Uuid,
        id: Uuid,
    ) -> Result<ResourceServerRow, ResourceServerError> {
        let c = self.db.get().await?;
        repo::get(&c, tenant, id, false)
            .await?
            .ok_or(ResourceServerError::NotFound)
    }

    /// Changes what the patch sets. Tokens already issued keep their audience and scopes
    /// until they expire or are revoked.
    pub async fn update(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
        patch: ResourceServerPatch,
    ) -> Result<ResourceServerRow, ResourceServerError> {
        let mut errors = Vec::new();
        if let Some(i) = &patch.identifier {
            self.identifier(i, &mut errors);
        }
        if let Some(n) = &patch.name {
            Self::name(n, &mut errors);
        }
        let scopes = patch
            .scopes
            .as_deref()
            .map(|s| Self::scopes(s, &mut errors));
        if !errors.is_empty() {
            return Err(ResourceServerError::Invalid(errors));
        }
        let mut change = Change::begin(&self.db).await?;
        let mut row = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(ResourceServerError::NotFound)?;
        if let Some(i) = patch.identifier {
            row.identifier = i;
        }
        if let Some(n) = patch.name {
            row.name = n;
        }
        if let Some(s) = scopes {
            row.scopes = s;
        }
        row.updated_at = micros(OffsetDateTime::now_utc());
        if !repo::update(change.tx(), &row).await? {
            return Err(ResourceServerError::Exists);
        }
        change.event(event(actor, RESOURCE_SERVER_UPDATED, &row));
        self.commit(change, tenant).await?;
        Ok(row)
    }

    /// Removes a resource server: tokens can no longer name it.
    pub async fn delete(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
    ) -> Result<(), ResourceServerError> {
        let mut change = Change::begin(&self.db).await?;
        let row = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(ResourceServerError::NotFound)?;
        repo::delete(change.tx(), tenant, id).await?;
        change.event(event(actor, RESOURCE_SERVER_DELETED, &row));
        self.commit(change, tenant).await?;
        Ok(())
    }

    /// Commits `change`, then this instance's token endpoint forgets the tenant's servers.
    async fn commit(&self, change: Change<'_>, tenant: Uuid) -> Result<(), Failure> {
        change.commit().await?;
        self.audiences.invalidate(tenant);
        Ok(())
    }
}

/// Whether two URIs name the same resource, a trailing slash aside.
fn same_resource(a: &Url, b: &Url) -> bool {
    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
}

fn event(actor: &str, action: &'static str, rs: &ResourceServerRow) -> NewEvent {
    NewEvent::new(
        rs.tenant_id,
        actor,
        action,
        Some(format!("resource_server:{}", rs.id)),
    )
    .details(json!({
        "resource_server": {
            "id": rs.id,
            "identifier": rs.identifier,
            "name": rs.name,
            "scopes": rs.scopes,
        }
    }))
}
