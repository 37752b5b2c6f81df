//! SQL of `credentials`: lifecycle facts of each credential from its events.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

/// A new credential.
#[derive(Debug)]
pub struct NewCredential<'a> {
    /// Id.
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Agent.
    pub agent_id: Uuid,
    /// OAuth client id.
    pub client_id: &'a str,
    /// When it was generated.
    pub created_at: OffsetDateTime,
    /// When it expires, if it does.
    pub expires_at: Option<OffsetDateTime>,
}

/// Records a generated credential (once).
pub async fn insert(c: &impl GenericClient, n: &NewCredential<'_>) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO credentials (id, tenant_id, agent_id, client_id, status, created_at,
                                      expires_at)
             VALUES ($1, $2, $3, $4, 'active', $5, $6)
             ON CONFLICT DO NOTHING",
        )
        .await?;
    c.execute(
        &stmt,
        &[
            &n.id,
            &n.tenant_id,
            &n.agent_id,
            &n.client_id,
            &n.created_at,
            &n.expires_at,
        ],
    )
    .await?;
    Ok(())
}

/// Records a rotation of the credential `id`.
pub async fn rotated(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "UPDATE credentials SET rotated_at = $3, rotations = rotations + 1
              WHERE tenant_id = $1 AND id = $2",
        )
        .await?;
    c.execute(&stmt, &[&tenant, &id, &at]).await?;
    Ok(())
}

/// Records the revocation of the credential of `client_id`.
pub async fn revoked(
    c: &impl GenericClient,
    tenant: Uuid,
    client_id: &str,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let stmt = c
        .prepare_cached(
            "UPDATE credentials SET status = 'revoked', revoked_at = $3
              WHERE tenant_id = $1 AND client_id = $2 AND status = 'active'",
        )
        .await?;
    c.execute(&stmt, &[&tenant, &client_id, &at]).await?;
    Ok(())
}

/// An active credential with its agent's status.
#[derive(Debug, Clone)]
pub struct CredentialFacts {
    /// Id.
    pub id: Uuid,
    /// Agent.
    pub agent_id: Uuid,
    /// OAuth client id.
    pub client_id: String,
    /// Generated at.
    pub created_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Last rotation (none: never rotated).
    pub rotated_at: Option<OffsetDateTime>,
    /// The agent's status (`unknown` when the projection has not seen the agent).
    pub agent_status: String,
}

/// A tenant's active credentials, oldest first.
pub async fn active(c: &impl GenericClient, tenant: Uuid) -> anyhow::Result<Vec<CredentialFacts>> {
    let stmt = c
        .prepare_cached(
            "SELECT c.id, c.agent_id, c.client_id, c.created_at, c.expires_at, c.rotated_at,
                    COALESCE(a.status, 'unknown')
               FROM credentials c LEFT JOIN agents a ON a.id = c.agent_id
              WHERE c.tenant_id = $1 AND c.status = 'active'
              ORDER BY c.created_at, c.id",
        )
        .await?;
    Ok(c.query(&stmt, &[&tenant])
        .await?
        .iter()
        .map(|r| CredentialFacts {
            id: r.get(0),
            agent_id: r.get(1),
            client_id: r.get(2),
            created_at: r.get(3),
            expires_at: r.get(4),
            rotated_at: r.get(5),
            agent_status: r.get(6),
        })
        .collect())
}
