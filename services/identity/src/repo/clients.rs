//! SQL of `clients`: agent credentials, service clients, and what the token endpoint reads
//! of every client (tenant-admin clients are written by [`super::admin_clients`]).

use domain::{AgentStatus, ClientKind, ClientStatus, TenantStatus};
use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;

/// A credential as the management API shows it (no secret material).
#[derive(Debug, Clone)]
pub struct CredentialRow {
    /// Credential id.
    pub id: Uuid,
    /// Public client id.
    pub client_id: String,
    /// The agent.
    pub agent_id: Uuid,
    /// Restricted scopes, or all the agent's capabilities.
    pub scopes: Option<Vec<String>>,
    /// Whether it still works.
    pub status: ClientStatus,
    /// Optional expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Until when the previous secret still works after a rotation.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last rotated.
    pub rotated_at: Option<OffsetDateTime>,
    /// Revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// `client_secret` or `private_key_jwt`.
    pub auth_method: String,
    /// private_key_jwt: the registered public keys.
    pub jwks: Option<serde_json::Value>,
    /// private_key_jwt: where the keys are published.
    pub jwks_uri: Option<String>,
    /// Whether its tokens must be DPoP-bound.
    pub dpop_bound: bool,
}

const CREDENTIAL_COLUMNS: &str = "id, client_id, agent_id, scopes, status, expires_at, \
     previous_secret_expires_at, created_at, rotated_at, revoked_at, auth_method, jwks, \
     jwks_uri, dpop_bound";

fn credential(r: &tokio_postgres::Row) -> Result<CredentialRow, tokio_postgres::Error> {
    Ok(CredentialRow {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        agent_id: r.try_get(2)?,
        scopes: r.try_get(3)?,
        status: stored::get(r, 4)?,
        expires_at: r.try_get(5)?,
        previous_secret_expires_at: r.try_get(6)?,
        created_at: r.try_get(7)?,
        rotated_at: r.try_get(8)?,
        revoked_at: r.try_get(9)?,
        auth_method: r.try_get(10)?,
        jwks: r.try_get(11)?,
        jwks_uri: r.try_get(12)?,
        dpop_bound: r.try_get(13)?,
    })
}

/// What a new client is.
#[derive(Debug, Clone)]
pub enum NewClientKind<'a> {
    /// An agent's credential.
    Agent {
        /// Tenant.
        tenant: Uuid,
        /// Agent.
        agent: Uuid,
        /// Restricted scopes.
        scopes: Option<&'a [String]>,
        /// Expiry.
        expires_at: Option<OffsetDateTime>,
    },
    /// An internal service's client (scope `internal`).
    Service {
        /// The service's name.
        name: &'a str,
    },
}

struct ClientColumns<'a> {
    kind: ClientKind,
    tenant: Option<Uuid>,
    agent: Option<Uuid>,
    service: Option<&'a str>,
    scopes: Option<&'a [String]>,
    expires: Option<OffsetDateTime>,
}

/// Stores a client.
pub async fn insert(
    c: &impl GenericClient,
    id: Uuid,
    client_id: &str,
    secret_hash: &[u8],
    kind: NewClientKind<'_>,
) -> Result<(), tokio_postgres::Error> {
    let internal = ["internal".to_owned()];
    let mut row = ClientColumns {
        kind: ClientKind::Service,
        tenant: None,
        agent: None,
        service: None,
        scopes: None,
        expires: None,
    };
    match kind {
        NewClientKind::Agent {
            tenant,
            agent,
            scopes,
            expires_at,
        } => {
            row.kind = ClientKind::Agent;
            row.tenant = Some(tenant);
            row.agent = Some(agent);
            row.scopes = scopes;
            row.expires = expires_at;
        }
        NewClientKind::Service { name } => {
            row.service = Some(name);
            row.scopes = Some(&internal[..]);
        }
    }
    let ClientColumns {
        kind: kind_s,
        tenant,
        agent,
        service,
        scopes,
        expires,
    } = row;
    c.execute(
        "INSERT INTO clients (id, client_id, kind, tenant_id, agent_id, service_name,
                secret_hash, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &id,
            &client_id,
            &kind_s.as_str(),
            &tenant,
            &agent,
            &service,
            &secret_hash,
            &scopes,
            &expires,
        ],
    )
    .await?;
    Ok(())
}

/// Revokes the active client of an internal service; returns its client id.
pub async fn revoke_service(
    c: &impl GenericClient,
    name: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(c.query_opt(
        "UPDATE clients SET status = 'revoked', revoked_at = now()
              WHERE kind = 'service' AND service_name = $1 AND status = 'active'
              RETURNING client_id",
        &[&name],
    )
    .await?
    .map(|r| r.get(0)))
}

/// Credentials of an agent, oldest first.
pub async fn list_for_agent(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
) -> Result<Vec<CredentialRow>, tokio_postgres::Error> {
    c.query(
        &format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM clients
                  WHERE tenant_id = $1 AND agent_id = $2 ORDER BY created_at, id"
        ),
        &[&tenant, &agent],
    )
    .await?
    .iter()
    .map(credential)
    .collect()
}

/// One credential of an agent, locked for the rest of the transaction.
pub async fn get_for_update(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
    id: Uuid,
) -> Result<Option<CredentialRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM clients
                  WHERE tenant_id = $1 AND agent_id = $2 AND id = $3 FOR UPDATE"
        ),
        &[&tenant, &agent, &id],
    )
    .await?
    .as_ref()
    .map(credential)
    .transpose()
}

/// One credential of an agent.
pub async fn get(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
    id: Uuid,
) -> Result<Option<CredentialRow>, tokio_postgres::Error> {
    c.query_opt(
        &format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM clients
                  WHERE tenant_id = $1 AND agent_id = $2 AND id = $3"
        ),
        &[&tenant, &agent, &id],
    )
    .await?
    .as_ref()
    .map(credential)
    .transpose()
}

/// Replaces the secret; the old one keeps working until `previous_until` (or stops at once).
pub async fn rotate(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
    new_hash: &[u8],
    previous_until: Option<OffsetDateTime>,
) -> Result<CredentialRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "UPDATE clients
                    SET previous_secret_hash = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE secret_hash END,
                        previous_secret_expires_at = $4,
                        secret_hash = $3,
                        rotated_at = now()
                  WHERE tenant_id = $1 AND id = $2 RETURNING {CREDENTIAL_COLUMNS}"
            ),
            &[&tenant, &id, &new_hash, &previous_until],
        )
        .await?;
    credential(&r)
}

/// Revokes one credential.
pub async fn revoke(
    c: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<CredentialRow, tokio_postgres::Error> {
    let r = c
        .query_one(
            &format!(
                "UPDATE clients SET status = 'revoked', revoked_at = now(),
                        previous_secret_hash = NULL, previous_secret_expires_at = NULL
                  WHERE tenant_id = $1 AND id = $2 RETURNING {CREDENTIAL_COLUMNS}"
            ),
            &[&tenant, &id],
        )
        .await?;
    credential(&r)
}

/// Revokes every active credential of an agent; returns their client ids.
pub async fn revoke_all_for_agent(
    c: &impl GenericClient,
    tenant: Uuid,
    agent: Uuid,
) -> Result<Vec<String>, tokio_postgres::Error> {
    Ok(c.query(
        "UPDATE clients SET status = 'revoked', revoked_at = now(),
                    previous_secret_hash = NULL, previous_secret_expires_at = NULL
              WHERE tenant_id = $1 AND agent_id = $2 AND status = 'active'
              RETURNING client_id",
        &[&tenant, &agent],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Everything the token endpoint needs about a client, in one indexed query.
#[derive(Debug, Clone)]
pub struct TokenClientRow {
    /// Credential id.
    pub id: Uuid,
    /// Public client id.
    pub client_id: String,
    /// Whom it acts for.
    pub kind: ClientKind,
    /// Tenant (none for service clients).
    pub tenant_id: Option<Uuid>,
    /// Agent (agent credentials only).
    pub agent_id: Option<Uuid>,
    /// Service name (service clients only).
    pub service_name: Option<String>,
    /// Current secret's HMAC.
    pub secret_hash: Vec<u8>,
    /// Previous secret's HMAC during a rotation grace period.
    pub previous_secret_hash: Option<Vec<u8>>,
    /// End of the grace period.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    /// Scopes of the client (agent: restriction, or none).
    pub scopes: Option<Vec<String>>,
    /// Whether it still works.
    pub status: ClientStatus,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// The agent's status.
    pub agent_status: Option<AgentStatus>,
    /// The agent's capabilities.
    pub agent_capabilities: Option<Vec<String>>,
    /// The tenant's status.
    pub tenant_status: Option<TenantStatus>,
    /// A private_key_jwt client's keys (none for a client with a secret).
    pub keys: Option<std::sync::Arc<ClientKeys>>,
    /// Whether the client's tokens must be DPoP-bound.
    pub dpop_bound: bool,
}

/// The public keys a private_key_jwt client signs its assertions with.
#[derive(Debug)]
pub enum ClientKeys {
    /// Registered with the client: usable keys with their `kid` (when they have one).
    Inline(
        Vec<(
            Option<String>,
            std::sync::Arc<platform::auth::keyset::KeyEntry>,
        )>,
    ),
    /// Fetched from the client's `jwks_uri`.
    Uri(String),
}

impl ClientKeys {
    /// The keys of a stored `jwks` (keys that cannot verify anything are left out) or
    /// `jwks_uri`.
    pub fn from_stored(jwks: Option<serde_json::Value>, uri: Option<String>) -> Option<Self> {
        if let Some(uri) = uri {
            return Some(Self::Uri(uri));
        }
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks?).ok()?;
        Some(Self::Inline(
            set.keys
                .iter()
                .filter_map(|jwk| {
                    let alg = platform::auth::jwk_alg(jwk)?;
                    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).ok()?;
                    Some((
                        jwk.common.key_id.clone(),
                        std::sync::Arc::new(platform::auth::keyset::KeyEntry { alg, key }),
                    ))
                })
                .collect(),
        ))
    }
}

/// Looks a client up by its public id.
pub async fn lookup(
    c: &impl GenericClient,
    client_id: &str,
) -> Result<Option<TokenClientRow>, tokio_postgres::Error> {
    let stmt = c
        .prepare_cached(
            "SELECT c.id, c.client_id, c.kind, c.tenant_id, c.agent_id, c.service_name,
                    c.secret_hash, c.previous_secret_hash, c.previous_secret_expires_at,
                    c.scopes, c.status, c.expires_at, a.status, a.capabilities, t.status,
                    c.jwks, c.jwks_uri, c.dpop_bound
               FROM clients c
               LEFT JOIN agents a ON a.id = c.agent_id
               LEFT JOIN tenants t ON t.id = c.tenant_id
              WHERE c.client_id = $1",
        )
        .await?;
    let Some(r) = c.query_opt(&stmt, &[&client_id]).await? else {
        return Ok(None);
    };
    Ok(Some(TokenClientRow {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        kind: stored::get(&r, 2)?,
        tenant_id: r.try_get(3)?,
        agent_id: r.try_get(4)?,
        service_name: r.try_get(5)?,
        secret_hash: r.try_get(6)?,
        previous_secret_hash: r.try_get(7)?,
        previous_secret_expires_at: r.try_get(8)?,
        scopes: r.try_get(9)?,
        status: stored::get(&r, 10)?,
        expires_at: r.try_get(11)?,
        agent_status: stored::get_opt(&r, 12)?,
        agent_capabilities: r.try_get(13)?,
        tenant_status: stored::get_opt(&r, 14)?,
        keys: ClientKeys::from_stored(r.try_get(15)?, r.try_get(16)?).map(std::sync::Arc::new),
        dpop_bound: r.try_get(17)?,
    }))
}

/// Makes a new client a private_key_jwt client with `jwks` or `jwks_uri` (its secret hash
/// is empty), and DPoP-bound when `dpop_bound`.
pub async fn set_keys(
    c: &impl GenericClient,
    id: Uuid,
    jwks: Option<&serde_json::Value>,
    jwks_uri: Option<&str>,
    dpop_bound: bool,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE clients
            SET auth_method = CASE WHEN $2::jsonb IS NULL AND $3::text IS NULL
                                   THEN 'client_secret' ELSE 'private_key_jwt' END,
                jwks = $2, jwks_uri = $3, dpop_bound = $4,
                secret_hash = CASE WHEN $2::jsonb IS NULL AND $3::text IS NULL
                                   THEN secret_hash ELSE ''::bytea END
          WHERE id = $1",
        &[&id, &jwks, &jwks_uri, &dpop_bound],
    )
    .await?;
    Ok(())
}

/// Whether client row `id` authenticates with private_key_jwt.
pub async fn is_key_client(
    c: &impl GenericClient,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(c.query_opt(
        "SELECT 1 FROM clients WHERE id = $1 AND auth_method = 'private_key_jwt'",
        &[&id],
    )
    .await?
    .is_some())
}
