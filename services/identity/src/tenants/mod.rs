//! Tenants: reading and changing them here, signing up in [`signup`], their admin clients in
//! [`clients`]; and internal service clients. Every change is one audited change.

pub mod clients;
pub mod signup;

use domain::ClientKind;
use platform::errors::FieldError;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::change::Changes;
use crate::audit::event::{NewEvent, SYSTEM_TENANT, format_time};
use crate::crypto::{self, Pepper};
use crate::repo::clients::{self as client_rows, NewClientKind};
use crate::repo::tenants::{self as repo, TenantRow};
use crate::tokens::revocation::Kind;
use platform::Failure;

/// Body of `PATCH /api/v1/tenants/me`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    name: Option<String>,
    email: Option<String>,
}

/// `v` trimmed; a problem with `field` when it is empty, longer than `max` characters or
/// holds control characters.
fn valid_text(errors: &mut Vec<FieldError>, field: &str, v: &str, max: usize) -> String {
    let t = v.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    t.to_owned()
}

fn valid_name(errors: &mut Vec<FieldError>, v: &str) -> String {
    valid_text(errors, "name", v, 200)
}

/// A pragmatic email check: one `@`, a dotted domain, no spaces, at most 320 bytes.
fn valid_email(errors: &mut Vec<FieldError>, v: &str) -> String {
    let t = v.trim();
    let ok = t.len() <= 320
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && t.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !ok {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    t.to_owned()
}

/// The API representation of a tenant.
pub fn to_json(t: &TenantRow) -> serde_json::Value {
    json!({
        "id": t.id,
        "name": t.name,
        "email": t.email,
        "status": t.status,
        "created_at": format_time(t.created_at),
        "updated_at": format_time(t.updated_at),
    })
}

/// Whether `name` may name an internal service client.
pub fn valid_service_name(name: &str) -> bool {
    (2..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Why a tenant rule refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such tenant.
    #[error("tenant not found")]
    NotFound,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(TenantError);

/// Signs tenants up, reads and changes them, and makes service clients.
#[derive(Debug)]
pub struct Tenants {
    changes: Changes,
    pepper: Pepper,
}

impl Tenants {
    /// Tenants stored and changed through `changes`, client secrets hashed with `pepper`.
    pub fn new(changes: Changes, pepper: Pepper) -> Self {
        Self { changes, pepper }
    }

    /// The caller's tenant.
    pub async fn get(&self, tenant: Uuid) -> Result<TenantRow, TenantError> {
        let c = self.changes.db().get().await?;
        repo::get(&c, tenant).await?.ok_or(TenantError::NotFound)
    }

    /// Changes the caller's tenant.
    pub async fn update(
        &self,
        tenant: Uuid,
        actor: &str,
        patch: TenantPatch,
    ) -> Result<TenantRow, TenantError> {
        let mut errors = Vec::new();
        let name = patch.name.as_deref().map(|n| valid_name(&mut errors, n));
        let email = patch.email.as_deref().map(|e| valid_email(&mut errors, e));
        if name.is_none() && email.is_none() {
            errors.push(FieldError::new("body", "set name or email"));
        }
        if !errors.is_empty() {
            return Err(TenantError::Invalid(errors));
        }
        let mut change = self.changes.begin().await?;
        let row = repo::update(change.tx(), tenant, name.as_deref(), email.as_deref())
            .await?
            .ok_or(TenantError::NotFound)?;
        change.event(
            NewEvent::new(
                tenant,
                actor,
                "tenant.updated",
                Some(format!("tenant:{tenant}")),
            )
            .details(json!({"tenant": to_json(&row)})),
        );
        change.commit().await?;
        Ok(row)
    }

    /// Creates, or replaces, the internal client of service `name` (scope `internal`); the
    /// previous client and its tokens are revoked. Returns `(client_id, client_secret)`.
    pub async fn service_client(&self, name: &str) -> anyhow::Result<(String, String)> {
        anyhow::ensure!(
            valid_service_name(name),
            "service names are 2 to 32 of a-z, 0-9 and -, starting with a letter"
        );
        let failed = |e: platform::ApiError| anyhow::anyhow!("{e}");
        let mut change = self.changes.begin().await.map_err(failed)?;
        if let Some(old) = client_rows::revoke_service(change.tx(), name).await? {
            change
                .revoke_all(Kind::Client, &old, None)
                .await
                .map_err(failed)?;
            change.event(
                NewEvent::new(
                    SYSTEM_TENANT,
                    "system",
                    "credential.revoked",
                    Some(format!("client:{old}")),
                )
                .details(json!({"client_id": old, "service": name})),
            );
        }
        let client_id = crypto::new_client_id()?;
        let secret = crypto::new_client_secret()?;
        client_rows::insert(
            change.tx(),
            Uuid::now_v7(),
            &client_id,
            &self.pepper.hash(&secret),
            NewClientKind::Service { name },
        )
        .await?;
        change.event(
            NewEvent::new(
                SYSTEM_TENANT,
                "system",
                "credential.generated",
                Some(format!("client:{client_id}")),
            )
            .details(json!({"client_id": client_id, "service": name, "kind": ClientKind::Service})),
        );
        change.commit().await.map_err(failed)?;
        Ok((client_id, secret))
    }
}
