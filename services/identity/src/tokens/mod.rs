//! OAuth 2.0 tokens: issuance (client_credentials), the credential cache, revocation.

pub mod cache;
pub mod client_auth;
pub mod grant;
pub mod issue;
pub mod revocation;

pub use cache::CredentialCache;
pub use issue::{Issued, Issuer};
pub use revocation::Revocations;
