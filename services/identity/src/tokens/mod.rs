//! OAuth 2.0 tokens: reading requests, client authentication, grants (client_credentials,
//! token exchange),
//! signing, the credential cache, introspection and revocation.

pub mod assertion;
pub mod cache;
pub mod client_auth;
pub mod exchange;
pub mod exchange_request;
pub mod form;
pub mod grant;
pub mod introspection;
pub mod issue;
pub mod refusals;
pub mod replay;
pub mod request;
pub mod revocation;
pub mod service;
pub mod suspects;

pub use cache::{CacheSizes, CredentialCache};
pub use grant::{GrantError, Granted};
pub use introspection::Introspection;
pub use issue::{Issued, Issuer};
pub use request::{ManagementRequest, TokenRequest};
pub use revocation::Revocations;
pub use service::TokenService;
