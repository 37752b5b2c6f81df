//! Every value sealed with the key-encryption key, read and replaced page by page (the
//! re-sealing of a key rotation).

use platform::db::GenericClient;

/// A table holding sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// Token signing keys (`signing_keys.private_key_enc`, associated data = kid).
    SigningKeys,
    /// Agents' DID keys (`agent_keys.private_key_enc`, associated data = `did:<agent id>`).
    AgentKeys,
    /// Webhook signing secrets (`webhooks.secret_enc`, associated data = `webhook:<id>`).
    Webhooks,
}

impl SealedTable {
    /// Every table, in the order a re-sealing walks them.
    pub const ALL: [SealedTable; 3] = [Self::SigningKeys, Self::AgentKeys, Self::Webhooks];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::SigningKeys => "signing_keys",
            Self::AgentKeys => "agent_keys",
            Self::Webhooks => "webhooks",
        }
    }

    fn page_sql(self) -> &'static str {
        match self {
            Self::SigningKeys => {
                "SELECT kid, kid, private_key_enc FROM signing_keys
                  WHERE kid > $1 ORDER BY kid LIMIT $2"
            }
            Self::AgentKeys => {
                "SELECT agent_id::text, 'did:' || agent_id, private_key_enc FROM agent_keys
                  WHERE agent_id::text > $1 ORDER BY agent_id::text LIMIT $2"
            }
            Self::Webhooks => {
                "SELECT id::text, 'webhook:' || id, secret_enc FROM webhooks
                  WHERE id::text > $1 ORDER BY id::text LIMIT $2"
            }
        }
    }

    fn replace_sql(self) -> &'static str {
        match self {
            Self::SigningKeys => {
                "UPDATE signing_keys SET private_key_enc = $3 WHERE kid = $1 AND private_key_enc = $2"
            }
            Self::AgentKeys => {
                "UPDATE agent_keys SET private_key_enc = $3
                  WHERE agent_id::text = $1 AND private_key_enc = $2"
            }
            Self::Webhooks => {
                "UPDATE webhooks SET secret_enc = $3 WHERE id::text = $1 AND secret_enc = $2"
            }
        }
    }
}

/// One sealed value.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The row's key, as text (the paging position).
    pub key: String,
    /// The associated data it was sealed with.
    pub aad: String,
    /// `nonce || ciphertext || tag`.
    pub sealed: Vec<u8>,
}

/// Up to `limit` sealed values of `table` after the key `after` ("" for the first page).
pub async fn page(
    c: &impl GenericClient,
    table: SealedTable,
    after: &str,
    limit: i64,
) -> Result<Vec<Sealed>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(table.page_sql()).await?;
    Ok(c.query(&stmt, &[&after, &limit])
        .await?
        .iter()
        .map(|r| Sealed {
            key: r.get(0),
            aad: r.get(1),
            sealed: r.get(2),
        })
        .collect())
}

/// Replaces `old` by `new` unless the value changed meanwhile; whether it was replaced.
pub async fn replace(
    c: &impl GenericClient,
    table: SealedTable,
    key: &str,
    old: &[u8],
    new: &[u8],
) -> Result<bool, tokio_postgres::Error> {
    let stmt = c.prepare_cached(table.replace_sql()).await?;
    Ok(c.execute(&stmt, &[&key, &old, &new]).await? == 1)
}
