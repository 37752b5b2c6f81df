//! Token signing keys: generation, storage (encrypted), rotation, JWKS.

mod import;
mod ring;
mod signer;

pub use import::import_pem_pair;
pub use ring::{KeyRing, KeySet, rotate_now};
pub use signer::{Alg, SigningKey, generate_pkcs8, thumbprint};

/// Records a new signing key in the system's audit chain, in the caller's transaction.
pub(crate) async fn audit_created(
    c: &impl platform::db::GenericClient,
    row: &crate::repo::keys::KeyRow,
) -> anyhow::Result<()> {
    let event = crate::audit::NewEvent::new(
        crate::audit::SYSTEM_TENANT,
        "system",
        "signing_key.created",
        Some(format!("key:{}", row.kid)),
    )
    .details(serde_json::json!({
        "kid": row.kid,
        "alg": row.alg,
        "source": row.source,
        "activates_at": crate::audit::format_time(row.activates_at),
    }));
    crate::audit::append(c, vec![event]).await?;
    Ok(())
}
