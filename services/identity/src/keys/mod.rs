//! Token signing keys: generation, storage (encrypted), rotation, JWKS.

mod import;
mod ring;
mod signer;

pub use import::import_pem_pair;
pub use ring::{KeyRing, KeySet, rotate_now};
pub use signer::{Alg, SigningKey, generate_pkcs8, thumbprint};
