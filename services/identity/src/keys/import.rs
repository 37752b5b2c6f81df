//! Import of the original product's RS256 key pair (`JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY`).
//!
//! The pair is checked to match (a token signed with the private key must verify with the
//! public key), stored sealed like generated keys, and activated at once: tokens of the
//! original product keep verifying against our JWKS. Importing the same pair again changes
//! nothing. PEM values may carry literal `\n` sequences (single-line environment values).

use platform::db::Db;
use time::OffsetDateTime;

use super::change::{begin, commit, created};
use super::signer::{Alg, SigningKey};
use crate::crypto::Kek;
use crate::repo::keys::{self as repo, KeyRow};

fn pem_der(pem_text: &str, what: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let normalized = pem_text.replace("\\n", "\n");
    let p = pem::parse(normalized.trim())
        .map_err(|e| anyhow::anyhow!("{what} is not a PEM document: {e}"))?;
    Ok((p.tag().to_owned(), p.contents().to_vec()))
}

/// Imports the pair unless already present; returns its kid.
pub async fn import_pem_pair(
    db: &Db,
    kek: &Kek,
    private_pem: &str,
    public_pem: &str,
) -> anyhow::Result<String> {
    let (tag, der) = pem_der(private_pem, "JWT_PRIVATE_KEY")?;
    anyhow::ensure!(
        tag == "PRIVATE KEY" || tag == "RSA PRIVATE KEY",
        "JWT_PRIVATE_KEY must be an RSA private key (PKCS#8 or PKCS#1 PEM), found {tag}"
    );
    let key = SigningKey::from_der(Alg::Rs256, &der, OffsetDateTime::now_utc())?;

    // The public key must belong to the private key.
    let probe = key.sign_jwt(br#"{"probe":true,"exp":4102444800}"#)?;
    let public =
        jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.replace("\\n", "\n").trim().as_bytes())
            .map_err(|e| anyhow::anyhow!("JWT_PUBLIC_KEY is not an RSA public key PEM: {e}"))?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_aud = false;
    v.set_required_spec_claims::<&str>(&[]);
    jsonwebtoken::decode::<serde_json::Value>(&probe, &public, &v)
        .map_err(|_| anyhow::anyhow!("JWT_PUBLIC_KEY does not match JWT_PRIVATE_KEY"))?;

    let mut change = begin(db).await?;
    repo::lock(change.tx()).await?;
    if !repo::exists(change.tx(), &key.kid).await? {
        let row = KeyRow {
            kid: key.kid.clone(),
            alg: Alg::Rs256.as_str().into(),
            private_key_enc: kek.seal(key.kid.as_bytes(), &der)?,
            source: "imported".into(),
            activates_at: key.activates_at,
        };
        repo::insert(change.tx(), &row, &key.public_jwk).await?;
        change.event(created(&row));
        tracing::info!(kid = %key.kid, "imported JWT_PRIVATE_KEY as the RS256 signing key");
    }
    commit(change).await?;
    Ok(key.kid)
}
