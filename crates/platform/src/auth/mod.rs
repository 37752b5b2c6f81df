//! Access-token verification for every service, and the extractors that put authorization
//! rules in handler signatures.
//!
//! Verification is local: the token must be an access token (`typ: at+jwt`, so no other JWT
//! identity signs, such as an audit checkpoint, passes for one); its signature is checked
//! against identity's JWKS (fetched when a token names an unknown `kid` or the set is older
//! than [`KEY_CACHE_TTL`], at most once a second, so a key removed from the JWKS stops
//! verifying without a restart), then `iss`, `exp` and `nbf`, then `aud`, which must be the
//! platform API alone (a token for a tenant's resource server is refused), then revocation
//! in Redis:
//! - `revoked:jti:<jti>`: that token;
//! - `revoked:sub:<sub>` = unix milliseconds: every token of that agent issued at or before
//!   it (suspension, decommissioning);
//! - `revoked:client:<client_id>` = unix milliseconds: every token of that credential issued
//!   at or before it (credential revoked);
//! - for a delegated token, also the `jti` of every subject token of its chain and
//!   `grant:<id>` of every grant (presence), the `sub` cut-off of every actor and the
//!   `client` cut-off of every subject token;
//! - `revoked:_loaded`: present once identity has loaded every revocation from PostgreSQL.
//!
//! When Redis is unreachable or was emptied (no `_loaded` marker), the service's
//! [`RevocationFallback`] answers instead; without one the request is refused with 503.
//! Revocation is never skipped.
//!
//! Extractors: [`Authenticated`] (any valid token), [`RequireScope<S>`] (403 without the
//! scope), [`TenantId`] (the tenant of the token, never from a path or body). One request
//! verifies its token once, whatever the number of extractors.
//!
//! Authentication spends nothing: the tenant budget (rate limit, daily quota, metering;
//! `crate::budget`) is spent by the extractors once the request is authorized, after
//! [`RequireScope`]'s scope check, so a token without the needed scope costs its tenant
//! nothing.

mod claims;
mod context;
pub mod dpop;
mod error;
mod extract;
mod jwks;
pub mod keys;
pub mod keyset;
mod revocation;
pub mod scopes;
mod verifier;

pub use crate::future::BoxFuture;
pub use claims::{
    Actor, Audience, Claims, Federated, Link, RevocationSubjects, grant_revocation_subject,
};
pub use context::AuthContext;
pub use domain::Scope;
pub use error::AuthError;
pub use extract::{Authenticated, RequireScope, TenantId};
pub use jwks::{HttpJwks, JwksSource, jwk_alg};
pub use revocation::{HttpRevocationFallback, RevocationFallback, revocation_query};
pub use scopes::ScopeMarker;
pub use verifier::{KEY_CACHE_TTL, Verifier};
