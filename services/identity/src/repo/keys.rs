//! SQL of `signing_keys`.

use platform::db::GenericClient;
use time::OffsetDateTime;

/// A stored signing key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// `ES256`, `RS256` or `EdDSA`.
    pub alg: String,
    /// Sealed PKCS#8 DER.
    pub private_key_enc: Vec<u8>,
    /// `generated` or `imported`.
    pub source: String,
    /// When it starts signing.
    pub activates_at: OffsetDateTime,
}

/// Every key, oldest activation first.
pub async fn list(c: &impl GenericClient) -> Result<Vec<KeyRow>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT kid, alg, private_key_enc, source, activates_at
               FROM signing_keys ORDER BY activates_at, kid",
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| KeyRow {
            kid: r.get(0),
            alg: r.get(1),
            private_key_enc: r.get(2),
            source: r.get(3),
            activates_at: r.get(4),
        })
        .collect())
}

/// The latest activation time, if any key exists.
pub async fn newest_activation(
    c: &impl GenericClient,
) -> Result<Option<OffsetDateTime>, tokio_postgres::Error> {
    Ok(
        c.query_one("SELECT max(activates_at) FROM signing_keys", &[])
            .await?
            .get(0),
    )
}

/// Whether a key with `kid` exists.
pub async fn exists(c: &impl GenericClient, kid: &str) -> Result<bool, tokio_postgres::Error> {
    Ok(
        c.query_opt("SELECT 1 FROM signing_keys WHERE kid = $1", &[&kid])
            .await?
            .is_some(),
    )
}

/// Stores a key.
pub async fn insert(
    c: &impl GenericClient,
    row: &KeyRow,
    public_jwk: &serde_json::Value,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "INSERT INTO signing_keys (kid, alg, public_jwk, private_key_enc, source, activates_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &row.kid,
            &row.alg,
            public_jwk,
            &row.private_key_enc,
            &row.source,
            &row.activates_at,
        ],
    )
    .await?;
    Ok(())
}

/// Serializes key creation across instances for the rest of the transaction.
pub async fn lock(c: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "SELECT pg_advisory_xact_lock(hashtext('agentidp-signing-keys'))",
        &[],
    )
    .await?;
    Ok(())
}

/// Public facts of every key: `(kid, alg, source, created_at, activates_at)`, newest first.
pub async fn inventory(
    c: &impl GenericClient,
) -> Result<Vec<(String, String, String, OffsetDateTime, OffsetDateTime)>, tokio_postgres::Error> {
    let rows = c
        .query(
            "SELECT kid, alg, source, created_at, activates_at
               FROM signing_keys ORDER BY activates_at DESC, kid",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
}
