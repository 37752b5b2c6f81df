//! The token endpoint's service: everything issuing a token touches, and nothing else.

use metrics::Counter;
use platform::app::Core;
use platform::auth::Verifier;
use platform::db::Db;
use platform::metering::Metering;
use platform::quota::Quota;
use platform::rate_limit::RateLimiter;

use super::assertion::Assertions;
use super::cache::CredentialCache;
use super::issue::Issuer;
use super::refusals::{Refusals, WINDOW};
use super::replay::Replays;
use super::suspects::{SUSPECT_LOOKUPS, Suspects};
use crate::audit::writer::AuditWriter;
use crate::crypto::Pepper;
use crate::federation::Federation;
use crate::resource_servers::Audiences;

/// Issues tokens and authenticates clients ([`super::grant`], [`super::client_auth`]).
#[derive(Debug)]
pub struct TokenService {
    pub(super) issuer: Issuer,
    pub(super) cache: CredentialCache,
    /// The tenants' resource servers, for requests naming another audience.
    pub(super) audiences: Audiences,
    pub(super) pepper: Pepper,
    pub(super) limiter: RateLimiter,
    pub(super) quota: Quota,
    pub(super) metering: Metering,
    pub(super) audit: AuditWriter,
    /// `agentidp_tokens_issued_total`.
    pub(super) tokens_issued: Counter,
    /// `AUDIT_TOKEN_EVENTS`: every issuance and refusal is audited before the answer.
    pub(super) audit_token_events: bool,
    /// Refusals of known clients, counted between their audit events.
    pub(super) refusals: Refusals,
    /// Addresses past their failure limit.
    pub(super) suspects: Suspects,
    /// Lookups of uncached clients for suspect addresses.
    pub(super) suspect_lookups: tokio::sync::Semaphore,
    /// `agentidp_client_auth_unknown_total`: authentications with an unknown client id.
    pub(super) unknown_clients: Counter,
    /// Trust policies and external issuers (federated token exchange).
    pub(super) federation: Federation,
    /// Verifies subject tokens (delegated token exchange).
    pub(super) subjects: Verifier,
    /// Reads standing delegations.
    pub(super) db: Db,
    /// Verifies private_key_jwt client assertions.
    pub(super) assertions: Assertions,
    /// Single use of DPoP proofs.
    pub(super) replays: Replays,
    /// `agentidp_tokens_exchanged_total{kind="federated"}`.
    pub(super) exchanged_federated: Counter,
    /// `agentidp_tokens_exchanged_total{kind="delegated"}`.
    pub(super) exchanged_delegated: Counter,
}

/// What grants look up besides the credential cache.
#[derive(Debug)]
pub struct Lookups {
    /// The tenants' resource servers, for requests naming another audience.
    pub audiences: Audiences,
    /// Trust policies and external issuers.
    pub federation: Federation,
    /// Verifies subject tokens (identity's own verifier).
    pub subjects: Verifier,
    /// Where standing delegations are read.
    pub db: Db,
    /// Verifies private_key_jwt client assertions.
    pub assertions: Assertions,
}

impl TokenService {
    /// A service signing with `issuer`, looking clients up in `cache` (and the rest in
    /// `lookups`), checking secrets with `pepper`, recording to `audit` (when
    /// `audit_token_events`), and limiting, enforcing quotas and metering with `core`'s
    /// limiter, quota and metering. Pending refusal counts are written in the background and
    /// at `core`'s shutdown.
    pub fn new(
        issuer: Issuer,
        cache: CredentialCache,
        pepper: Pepper,
        audit: AuditWriter,
        audit_token_events: bool,
        lookups: Lookups,
        core: &Core,
    ) -> Self {
        let refusals = Refusals::new(audit.clone(), WINDOW);
        refusals.spawn_flush(&core.shutdown);
        Self {
            issuer,
            cache,
            audiences: lookups.audiences,
            pepper,
            limiter: core.limiter.clone(),
            quota: core.quota.clone(),
            metering: core.metering.clone(),
            audit,
            tokens_issued: core.metrics.counter("agentidp_tokens_issued_total", &[]),
            audit_token_events,
            refusals,
            suspects: Suspects::default(),
            suspect_lookups: tokio::sync::Semaphore::new(SUSPECT_LOOKUPS),
            unknown_clients: core
                .metrics
                .counter("agentidp_client_auth_unknown_total", &[]),
            federation: lookups.federation,
            subjects: lookups.subjects,
            db: lookups.db,
            replays: lookups.assertions.replays.clone(),
            assertions: lookups.assertions,
            exchanged_federated: core
                .metrics
                .counter("agentidp_tokens_exchanged_total", &[("kind", "federated")]),
            exchanged_delegated: core
                .metrics
                .counter("agentidp_tokens_exchanged_total", &[("kind", "delegated")]),
        }
    }
}
