//! Subscriptions: validation of what a tenant subscribes, their changes (each one audited
//! change), and the delivery history with manual redelivery.

use domain::feed::actions::WEBHOOK_EVENT_TYPES;
use platform::db::Db;
use platform::errors::FieldError;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::deliver::Dispatcher;
use super::signing::{new_secret, seal_secret};
use crate::audit::change::Change;
use crate::audit::event::{NewEvent, micros};
use crate::crypto::Kek;
use crate::repo::deliveries::{self, DeliveryRow, DeliveryStatus};
use crate::repo::webhooks::{self as repo, WebhookRow};
use platform::Failure;

/// Most subscriptions per tenant.
pub const MAX_PER_TENANT: i64 = 20;

/// Body of `POST /api/v1/webhooks`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    event_types: Vec<String>,
    #[serde(default)]
    description: String,
}

/// Body of `PATCH /api/v1/webhooks/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    url: Option<String>,
    event_types: Option<Vec<String>>,
    description: Option<String>,
    active: Option<bool>,
}

/// Why a subscription rule refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such subscription in the tenant.
    #[error("webhook not found")]
    NotFound,
    /// The tenant has [`MAX_PER_TENANT`] subscriptions (409).
    #[error("a tenant may have at most {MAX_PER_TENANT} webhooks")]
    LimitReached,
    /// No such delivery of the subscription.
    #[error("delivery not found")]
    DeliveryNotFound,
    /// The delivery is still being attempted (409).
    #[error("this delivery is still being attempted")]
    DeliveryPending,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(SubscriptionError);

/// A subscription with its signing secret, as created or after a rotation (shown once).
#[derive(Debug)]
pub struct WithSecret {
    /// The subscription.
    pub webhook: WebhookRow,
    /// Its new signing secret.
    pub secret: String,
}

fn event_types(types: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if types.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "must name at least one event type",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !WEBHOOK_EVENT_TYPES.contains(&t.as_str()) {
            errors.push(FieldError::new(
                "event_types",
                format!("{t:?} is not one of: {}", WEBHOOK_EVENT_TYPES.join(", ")),
            ));
        } else if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

fn description(d: &str, errors: &mut Vec<FieldError>) {
    if d.chars().count() > 500 || d.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "description",
            "must be at most 500 characters without control characters",
        ));
    }
}

fn event(actor: &str, action: &'static str, w: &WebhookRow) -> NewEvent {
    NewEvent::new(
        w.tenant_id,
        actor,
        action,
        Some(format!("webhook:{}", w.id)),
    )
    .details(
        json!({"webhook_id": w.id, "url": w.url, "event_types": w.event_types, "active": w.active}),
    )
}

fn now() -> OffsetDateTime {
    micros(OffsetDateTime::now_utc())
}

/// Tenants' webhook subscriptions and their deliveries.
#[derive(Debug)]
pub struct Subscriptions {
    db: Db,
    kek: Kek,
    dispatcher: Dispatcher,
}

impl Subscriptions {
    /// Subscriptions stored in `db`, secrets sealed with `kek`, URLs checked by and
    /// redeliveries handed to `dispatcher`.
    pub fn new(db: Db, kek: Kek, dispatcher: Dispatcher) -> Self {
        Self {
            db,
            kek,
            dispatcher,
        }
    }

    async fn checked_url(&self, url: &str, errors: &mut Vec<FieldError>) -> String {
        match self.dispatcher.policy().check_url(url).await {
            Ok(u) => u.to_string(),
            Err(msg) => {
                errors.push(FieldError::new("url", msg));
                String::new()
            }
        }
    }

    fn sealed(&self, id: Uuid, secret: &str) -> Result<Vec<u8>, SubscriptionError> {
        Ok(seal_secret(&self.kek, id, secret)?)
    }

    /// Subscribes; the tenant may have at most [`MAX_PER_TENANT`] subscriptions.
    pub async fn create(
        &self,
        tenant: Uuid,
        actor: &str,
        input: NewWebhook,
    ) -> Result<WithSecret, SubscriptionError> {
        let mut errors = Vec::new();
        let types = event_types(&input.event_types, &mut errors);
        description(&input.description, &mut errors);
        let url = self.checked_url(&input.url, &mut errors).await;
        if !errors.is_empty() {
            return Err(SubscriptionError::Invalid(errors));
        }
        let id = Uuid::now_v7();
        let secret = new_secret()?;
        let now = now();
        let row = WebhookRow {
            id,
            tenant_id: tenant,
            url,
            description: input.description,
            event_types: types,
            secret_enc: self.sealed(id, &secret)?,
            active: true,
            created_at: now,
            updated_at: now,
        };
        let mut change = Change::begin(&self.db).await?;
        repo::lock_tenant(change.tx(), tenant).await?;
        if repo::count(change.tx(), tenant).await? >= MAX_PER_TENANT {
            return Err(SubscriptionError::LimitReached);
        }
        repo::insert(change.tx(), &row).await?;
        change.event(event(actor, "webhook.created", &row));
        change.commit().await?;
        Ok(WithSecret {
            webhook: row,
            secret,
        })
    }

    /// A tenant's subscriptions, oldest first.
    pub async fn list(&self, tenant: Uuid) -> Result<Vec<WebhookRow>, SubscriptionError> {
        let c = self.db.get().await?;
        Ok(repo::list(&c, tenant).await?)
    }

    /// One subscription of a tenant.
    pub async fn get(&self, tenant: Uuid, id: Uuid) -> Result<WebhookRow, SubscriptionError> {
        let c = self.db.get().await?;
        repo::get(&c, tenant, id, false)
            .await?
            .ok_or(SubscriptionError::NotFound)
    }

    /// Changes what the patch sets.
    pub async fn update(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
        patch: WebhookPatch,
    ) -> Result<WebhookRow, SubscriptionError> {
        let mut errors = Vec::new();
        let types = patch
            .event_types
            .as_ref()
            .map(|t| event_types(t, &mut errors));
        if let Some(d) = &patch.description {
            description(d, &mut errors);
        }
        let url = match &patch.url {
            Some(u) => Some(self.checked_url(u, &mut errors).await),
            None => None,
        };
        if !errors.is_empty() {
            return Err(SubscriptionError::Invalid(errors));
        }
        self.change(tenant, actor, id, "webhook.updated", |w| {
            if let Some(u) = url {
                w.url = u;
            }
            if let Some(t) = types {
                w.event_types = t;
            }
            if let Some(d) = patch.description {
                w.description = d;
            }
            if let Some(a) = patch.active {
                w.active = a;
            }
            Ok(())
        })
        .await
    }

    /// A new signing secret (shown once); the old one stops signing at once.
    pub async fn rotate_secret(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
    ) -> Result<WithSecret, SubscriptionError> {
        let secret = new_secret()?;
        let webhook = self
            .change(tenant, actor, id, "webhook.secret_rotated", |w| {
                w.secret_enc = self.sealed(id, &secret)?;
                Ok(())
            })
            .await?;
        Ok(WithSecret { webhook, secret })
    }

    /// Loads the subscription locked, applies `edit`, stores it and records `action`.
    async fn change(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
        action: &'static str,
        edit: impl FnOnce(&mut WebhookRow) -> Result<(), SubscriptionError>,
    ) -> Result<WebhookRow, SubscriptionError> {
        let mut change = Change::begin(&self.db).await?;
        let mut w = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(SubscriptionError::NotFound)?;
        edit(&mut w)?;
        w.updated_at = now();
        repo::update(change.tx(), &w).await?;
        change.event(event(actor, action, &w));
        change.commit().await?;
        Ok(w)
    }

    /// Removes the subscription and its delivery history.
    pub async fn delete(
        &self,
        tenant: Uuid,
        actor: &str,
        id: Uuid,
    ) -> Result<(), SubscriptionError> {
        let mut change = Change::begin(&self.db).await?;
        let w = repo::get(change.tx(), tenant, id, true)
            .await?
            .ok_or(SubscriptionError::NotFound)?;
        repo::delete(change.tx(), tenant, id).await?;
        change.event(event(actor, "webhook.deleted", &w));
        change.commit().await?;
        Ok(())
    }

    /// Fails unless the subscription exists in the tenant.
    pub async fn require(&self, tenant: Uuid, id: Uuid) -> Result<(), SubscriptionError> {
        self.get(tenant, id).await.map(|_| ())
    }

    /// Up to `limit` deliveries of a subscription (of one status, when given), newest first,
    /// before `before`.
    pub async fn deliveries(
        &self,
        tenant: Uuid,
        webhook: Uuid,
        status: Option<DeliveryStatus>,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, SubscriptionError> {
        self.require(tenant, webhook).await?;
        let c = self.db.get().await?;
        Ok(deliveries::list(&c, tenant, webhook, status, before, limit).await?)
    }

    /// One delivery with its attempts: `(attempt, at, status_code, error, duration_ms)`.
    pub async fn delivery(
        &self,
        tenant: Uuid,
        webhook: Uuid,
        id: Uuid,
    ) -> Result<(DeliveryRow, Vec<deliveries::Attempt>), SubscriptionError> {
        let c = self.db.get().await?;
        let d = deliveries::get(&c, tenant, webhook, id)
            .await?
            .ok_or(SubscriptionError::DeliveryNotFound)?;
        let attempts = deliveries::attempts(&c, id).await?;
        Ok((d, attempts))
    }

    /// A fresh round of attempts for a delivered or dead delivery.
    pub async fn redeliver(
        &self,
        tenant: Uuid,
        webhook: Uuid,
        id: Uuid,
    ) -> Result<DeliveryRow, SubscriptionError> {
        let c = self.db.get().await?;
        if deliveries::get(&c, tenant, webhook, id).await?.is_none() {
            return Err(SubscriptionError::DeliveryNotFound);
        }
        if !deliveries::redeliver(&c, tenant, webhook, id).await? {
            return Err(SubscriptionError::DeliveryPending);
        }
        self.dispatcher.wake();
        deliveries::get(&c, tenant, webhook, id)
            .await?
            .ok_or(SubscriptionError::DeliveryNotFound)
    }
}
