//! SQL of `token_revocations`, the durable half of the revocation store.

use platform::db::GenericClient;
use time::OffsetDateTime;
use uuid::Uuid;

use super::stored;

/// What a revocation covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One token, by `jti`.
    Token,
    /// Every token of an agent (`sub`).
    Agent,
    /// Every token of a credential (`client_id`).
    Client,
}

impl Kind {
    /// The stored form: `jti`, `sub` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "jti",
            Self::Agent => "sub",
            Self::Client => "client",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jti" => Ok(Self::Token),
            "sub" => Ok(Self::Agent),
            "client" => Ok(Self::Client),
            other => Err(format!("unknown revocation kind {other}")),
        }
    }
}

/// A revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// What it covers.
    pub kind: Kind,
    /// The token id, agent id or client id.
    pub subject: String,
    /// Tenant, when known.
    pub tenant_id: Option<Uuid>,
    /// When it was revoked (for `sub`/`client`: tokens issued at or before are revoked).
    pub revoked_at: OffsetDateTime,
    /// When no covered token can still be valid.
    pub expires_at: OffsetDateTime,
}

/// Records a revocation (a later one of the same subject moves the cut-off forward) and
/// returns the revocation now in force.
pub async fn upsert(
    c: &impl GenericClient,
    r: &Revocation,
) -> Result<Revocation, tokio_postgres::Error> {
    let row = c
        .query_one(
            "INSERT INTO token_revocations (kind, subject, tenant_id, revoked_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (kind, subject) DO UPDATE
            SET revoked_at = GREATEST(token_revocations.revoked_at, EXCLUDED.revoked_at),
                expires_at = GREATEST(token_revocations.expires_at, EXCLUDED.expires_at)
         RETURNING revoked_at, expires_at",
            &[
                &r.kind.as_str(),
                &r.subject,
                &r.tenant_id,
                &r.revoked_at,
                &r.expires_at,
            ],
        )
        .await?;
    Ok(Revocation {
        revoked_at: row.get(0),
        expires_at: row.get(1),
        ..r.clone()
    })
}

/// Lowers an agent's cut-off to `at` (reactivation: tokens issued from now on are valid);
/// returns the revocation now in force, if any.
pub async fn lower_cutoff(
    c: &impl GenericClient,
    kind: Kind,
    subject: &str,
    at: OffsetDateTime,
) -> Result<Option<Revocation>, tokio_postgres::Error> {
    c.query_opt(
        "UPDATE token_revocations SET revoked_at = LEAST(revoked_at, $3)
              WHERE kind = $1 AND subject = $2
              RETURNING kind, subject, tenant_id, revoked_at, expires_at",
        &[&kind.as_str(), &subject, &at],
    )
    .await?
    .as_ref()
    .map(revocation)
    .transpose()
}

/// Every revocation still in force.
pub async fn active(c: &impl GenericClient) -> Result<Vec<Revocation>, tokio_postgres::Error> {
    c.query(
        "SELECT kind, subject, tenant_id, revoked_at, expires_at
               FROM token_revocations WHERE expires_at > now()",
        &[],
    )
    .await?
    .iter()
    .map(revocation)
    .collect()
}

fn revocation(r: &tokio_postgres::Row) -> Result<Revocation, tokio_postgres::Error> {
    Ok(Revocation {
        kind: stored::get(r, 0)?,
        subject: r.try_get(1)?,
        tenant_id: r.try_get(2)?,
        revoked_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
    })
}

/// Whether a token (`jti`, `sub`, `client_id`, issued at `issued_at`) is revoked.
pub async fn covers(
    c: &impl GenericClient,
    q: &domain::revocation::RevocationQuery,
    issued_at: OffsetDateTime,
) -> Result<bool, tokio_postgres::Error> {
    let jtis: Vec<&str> = std::iter::once(q.jti.as_str())
        .chain(q.also_jtis.iter().map(String::as_str))
        .collect();
    let subs: Vec<&str> = std::iter::once(q.sub.as_str())
        .chain(q.also_subs.iter().map(String::as_str))
        .collect();
    let clients: Vec<&str> = std::iter::once(q.client_id.as_str())
        .chain(q.also_clients.iter().map(String::as_str))
        .collect();
    Ok(c.query_one(
        "SELECT EXISTS (
                SELECT 1 FROM token_revocations
                 WHERE expires_at > now() AND (
                       (kind = 'jti' AND subject = ANY($1))
                    OR (kind = 'sub' AND subject = ANY($2) AND $4 <= revoked_at)
                    OR (kind = 'client' AND subject = ANY($3) AND $4 <= revoked_at)))",
        &[&jtis, &subs, &clients, &issued_at],
    )
    .await?
    .get(0))
}

/// Deletes revocations that no longer cover any valid token.
pub async fn delete_expired(c: &impl GenericClient) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        "DELETE FROM token_revocations WHERE expires_at <= now()",
        &[],
    )
    .await
}

/// Every revocation in force whose cut-off is at or after `since`: all that changed since
/// then (a change sets the cut-off to its own time or later, or lowers it to its time).
pub async fn changed_since(
    c: &impl GenericClient,
    since: OffsetDateTime,
) -> Result<Vec<Revocation>, tokio_postgres::Error> {
    c.query(
        "SELECT kind, subject, tenant_id, revoked_at, expires_at
           FROM token_revocations WHERE expires_at > now() AND revoked_at >= $1",
        &[&since],
    )
    .await?
    .iter()
    .map(revocation)
    .collect()
}

/// Records that revocations changed at or after `since` may be missing from Redis.
pub async fn mark_mirror_dirty(
    c: &impl GenericClient,
    since: OffsetDateTime,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE revocation_mirror
            SET dirty_since = LEAST(COALESCE(dirty_since, $1), $1), version = version + 1",
        &[&since],
    )
    .await?;
    Ok(())
}

/// Since when revocations may be missing from Redis, and the record's version.
pub async fn mirror_dirty(
    c: &impl GenericClient,
) -> Result<Option<(OffsetDateTime, i64)>, tokio_postgres::Error> {
    Ok(c.query_opt(
        "SELECT dirty_since, version FROM revocation_mirror WHERE dirty_since IS NOT NULL",
        &[],
    )
    .await?
    .map(|r| (r.get(0), r.get(1))))
}

/// Clears the record of missing revocations, unless a failure was recorded after `version`.
pub async fn clear_mirror_dirty(
    c: &impl GenericClient,
    version: i64,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "UPDATE revocation_mirror SET dirty_since = NULL WHERE version = $1",
        &[&version],
    )
    .await?;
    Ok(())
}
