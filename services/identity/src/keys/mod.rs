//! Token signing keys: generation, storage (encrypted), rotation, JWKS, and what is
//! published about them.

pub mod change;
pub mod directory;
pub mod import;
pub mod reseal;
pub mod ring;
pub mod signer;

pub use directory::KeyDirectory;
pub use import::import_pem_pair;
pub use ring::{KeyRing, KeySet, rotate_now};
pub use signer::{Alg, SigningKey, generate_pkcs8, thumbprint};
