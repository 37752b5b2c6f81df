//! Resource servers (RFC 8707): the APIs of a tenant that access tokens may name as their
//! audience.
//!
//! A token request may name (`audience` or `resource`) the platform API (the issuer, also
//! the audience when none is named) or a resource server of its client's tenant; anything
//! else is `invalid_target`. A token for a resource server has that server's identifier as
//! its only `aud` and carries only the requested scopes the server defines (and the client
//! holds); the management API and the other services accept only tokens whose `aud` is the
//! platform API, so such a token is refused there.
//!
//! - [`service`]: registration, reads, changes and removal, each one audited change;
//! - [`audiences`]: the token endpoint's per-tenant cache of them.

pub mod audiences;
pub mod service;

pub use audiences::{Audiences, TenantAudiences};
pub use service::{ResourceServerError, ResourceServers};
