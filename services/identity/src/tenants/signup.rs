//! Signup: a new tenant on the free tier with its first admin client, named "signup" and
//! holding every platform scope.
//!
//! Signup is the one unauthenticated write, so it is bounded: `RATE_LIMIT_SIGNUP_IP_MAX`
//! attempts per `RATE_LIMIT_SIGNUP_IP_WINDOW_MS` from one address (10 an hour by default;
//! counted before anything else, so guessing invitation codes is limited too), and, when
//! `SIGNUP_INVITATION_CODES` is set, only a body carrying one of those codes signs up. A
//! refused signup stores nothing.

use std::net::IpAddr;

use aws_lc_rs::constant_time;
use domain::ClientKind;
use platform::Failure;
use platform::errors::FieldError;
use platform::net::limit_subject;
use platform::rate_limit::{Action, Check, Decision, RateLimiter};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::clients::{all_scopes, store};
use super::{to_json, valid_email, valid_name};
use crate::audit::change::Changes;
use crate::audit::event::NewEvent;
use crate::crypto::{Pepper, sha256};
use crate::repo::tenants::{self as repo, TenantRow};

/// The name of the admin client a signup makes.
pub const SIGNUP_CLIENT: &str = "signup";

/// Body of `POST /api/v1/tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    name: String,
    email: String,
    /// Required when `SIGNUP_INVITATION_CODES` is set.
    invitation_code: Option<String>,
}

/// A new tenant with its administrator client.
#[derive(Debug)]
pub struct Signup {
    /// The tenant.
    pub tenant: TenantRow,
    /// The admin client's id.
    pub client_id: String,
    /// Its secret (shown once).
    pub client_secret: String,
    /// Its scopes.
    pub scopes: Vec<String>,
}

/// Why a signup was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// Too many signups from the caller's address (429).
    #[error("too many signups from this address")]
    RateLimited(Decision),
    /// Signup needs an invitation code and the body has none (403).
    #[error("signup requires an invitation code (invitation_code)")]
    InvitationRequired,
    /// The invitation code is not one of the configured codes (403).
    #[error("the invitation code is not valid")]
    InvitationInvalid,
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(SignupError);

/// The invitation codes signup accepts (`SIGNUP_INVITATION_CODES`); none: signup is open.
#[derive(Clone)]
pub struct Invitations(Vec<[u8; 32]>);

impl std::fmt::Debug for Invitations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Invitations({} codes)", self.0.len())
    }
}

impl Invitations {
    /// Accepts `codes` (kept as SHA-256 digests only).
    pub fn new<'a>(codes: impl IntoIterator<Item = &'a str>) -> Self {
        Self(codes.into_iter().map(|c| sha256(c.as_bytes())).collect())
    }

    /// Whether `given` may sign up: every code is compared, in constant time, so the answer
    /// time tells nothing about which code came close.
    fn check(&self, given: Option<&str>) -> Result<(), SignupError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let given = given.ok_or(SignupError::InvitationRequired)?;
        let digest = sha256(given.as_bytes());
        let matched = self.0.iter().fold(false, |found, code| {
            constant_time::verify_slices_are_equal(code, &digest).is_ok() | found
        });
        if matched {
            Ok(())
        } else {
            Err(SignupError::InvitationInvalid)
        }
    }
}

/// Signs tenants up.
#[derive(Debug)]
pub struct Signups {
    changes: Changes,
    pepper: Pepper,
    limiter: RateLimiter,
    invitations: Invitations,
}

impl Signups {
    /// Signups stored through `changes` (secrets hashed with `pepper`), limited per address
    /// by `limiter`, gated by `invitations`.
    pub fn new(
        changes: Changes,
        pepper: Pepper,
        limiter: RateLimiter,
        invitations: Invitations,
    ) -> Self {
        Self {
            changes,
            pepper,
            limiter,
            invitations,
        }
    }

    /// Creates a tenant on the free tier and its admin client, for a caller at `ip`.
    pub async fn signup(
        &self,
        input: SignupInput,
        ip: Option<IpAddr>,
    ) -> Result<Signup, SignupError> {
        let ip = limit_subject(ip);
        let decision = self
            .limiter
            .check(&[Check::new(Action::SignupIp, &ip)])
            .await;
        if !decision.allowed {
            return Err(SignupError::RateLimited(decision));
        }
        self.invitations.check(input.invitation_code.as_deref())?;
        let mut errors = Vec::new();
        let name = valid_name(&mut errors, &input.name);
        let email = valid_email(&mut errors, &input.email);
        if !errors.is_empty() {
            return Err(SignupError::Invalid(errors));
        }
        let scopes = all_scopes();
        let mut change = self.changes.begin().await?;
        let id = Uuid::now_v7();
        let tenant = repo::insert(change.tx(), id, &name, &email).await?;
        let (client, secret) = store(change.tx(), &self.pepper, id, SIGNUP_CLIENT, &scopes).await?;
        change
            .event(
                NewEvent::new(
                    id,
                    "anonymous",
                    "tenant.created",
                    Some(format!("tenant:{id}")),
                )
                .details(json!({"tenant": to_json(&tenant)})),
            )
            .event(
                NewEvent::new(
                    id,
                    "anonymous",
                    "credential.generated",
                    Some(format!("credential:{}", client.id)),
                )
                .details(json!({
                    "credential_id": client.id,
                    "client_id": client.client_id,
                    "kind": ClientKind::TenantAdmin,
                })),
            );
        change.commit().await?;
        Ok(Signup {
            tenant,
            client_id: client.client_id,
            client_secret: secret,
            scopes,
        })
    }
}
