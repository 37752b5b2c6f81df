//! Retention with signed checkpoints.
//!
//! Events older than `AUDIT_RETENTION_DAYS` are removed per tenant, oldest first, only up to
//! the first event that is still young (chain order and clock order can differ slightly
//! between instances). Before removing, the job records a checkpoint: the last removed
//! event's position and hash, as a JWT signed by the token signing key
//! (`typ: audit-checkpoint+jwt`), so the rest of the chain verifies from that hash and anyone
//! holding the JWKS can check the statement. The newest checkpoint of each tenant is re-signed
//! whenever a newer signing key is published, so it stays verifiable after key rotation.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use platform::ApiError;
use platform::db::Db;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::event::{format_time, micros};
use crate::keys::ring::{KeyRing, KeySet};
use crate::keys::signer::SigningKey;
use crate::repo::audit::chains;
use crate::repo::checkpoints::{self as repo, CheckpointRow};

/// The JWS `typ` of checkpoints.
pub const TYP: &str = "audit-checkpoint+jwt";

/// Events removed per transaction.
const DELETE_BATCH: i64 = 10_000;

/// What a checkpoint states.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckpointClaims {
    /// The identity deployment (`PUBLIC_URL`).
    pub iss: String,
    /// `audit-chain:<tenant_id>`.
    pub sub: String,
    /// The tenant.
    pub tenant_id: Uuid,
    /// The last removed position.
    pub chain_seq: i64,
    /// The last removed event.
    pub event_id: Uuid,
    /// Its hash, lowercase hex: the `prev_hash` of the next event.
    pub hash: String,
    /// When that event happened (RFC 3339).
    pub occurred_at: String,
    /// When the checkpoint was made (Unix seconds).
    pub iat: i64,
}

fn claims(cp: &CheckpointRow, issuer: &str) -> CheckpointClaims {
    CheckpointClaims {
        iss: issuer.to_owned(),
        sub: format!("audit-chain:{}", cp.tenant_id),
        tenant_id: cp.tenant_id,
        chain_seq: cp.chain_seq,
        event_id: cp.event_id,
        hash: hex::encode(&cp.hash),
        occurred_at: format_time(cp.occurred_at),
        iat: cp.created_at.unix_timestamp(),
    }
}

fn sign(cp: &CheckpointRow, key: &SigningKey, issuer: &str) -> Result<String, ApiError> {
    let payload = serde_json::to_vec(&claims(cp, issuer)).map_err(ApiError::internal)?;
    key.sign_typed(TYP, &payload).map_err(ApiError::internal)
}

/// Whether the checkpoint's JWT verifies with a key published now and states exactly the
/// stored checkpoint.
pub fn signature_holds(
    cp: &CheckpointRow,
    keys: &KeySet,
    issuer: &str,
    now: OffsetDateTime,
) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(&cp.jwt) else {
        return false;
    };
    if header.typ.as_deref() != Some(TYP) {
        return false;
    }
    let Some(key) = keys
        .published(now)
        .find(|k| Some(k.kid.as_str()) == header.kid.as_deref())
    else {
        return false;
    };
    let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key.public_jwk.clone()) else {
        return false;
    };
    let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
        return false;
    };
    let alg = match key.alg.as_str() {
        "RS256" => Algorithm::RS256,
        "EdDSA" => Algorithm::EdDSA,
        _ => Algorithm::ES256,
    };
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims::<&str>(&[]);
    match jsonwebtoken::decode::<CheckpointClaims>(&cp.jwt, &decoding, &validation) {
        Ok(data) => data.claims == claims(cp, issuer),
        Err(_) => false,
    }
}

/// What one retention run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Events removed.
    pub removed: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Checkpoints re-signed with a newer key.
    pub resigned: u64,
}

/// Removes every tenant's events that happened before `before`, behind checkpoints, and
/// re-signs checkpoints whose key is no longer the newest.
pub async fn run_retention(
    db: &Db,
    keys: &KeyRing,
    issuer: &str,
    before: OffsetDateTime,
) -> Result<RetentionOutcome, ApiError> {
    let mut out = RetentionOutcome::default();
    let tenants = {
        let c = db.get().await?;
        chains(&c).await?
    };
    for tenant in tenants {
        loop {
            let (removed, cut) = retain_batch(db, keys, issuer, tenant, before).await?;
            out.removed += removed;
            out.checkpoints += u64::from(cut);
            if removed < DELETE_BATCH as u64 {
                break;
            }
        }
    }
    out.resigned = resign(db, keys, issuer).await?;
    Ok(out)
}

/// Removes up to one batch of `tenant`'s old events behind a new checkpoint.
async fn retain_batch(
    db: &Db,
    keys: &KeyRing,
    issuer: &str,
    tenant: Uuid,
    before: OffsetDateTime,
) -> Result<(u64, bool), ApiError> {
    let mut client = db.get().await?;
    // Most runs find nothing old: one indexed row answers that, before any scan.
    if !repo::oldest_is_before(&client, tenant, before).await? {
        return Ok((0, false));
    }
    let tx = client.transaction().await?;
    let Some(cut) = repo::retention_cut(&tx, tenant, before, DELETE_BATCH).await? else {
        return Ok((0, false));
    };
    let key = keys.current().newest().cloned().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("no signing key to sign a checkpoint with"))
    })?;
    let now = OffsetDateTime::now_utc();
    let mut cp = CheckpointRow {
        tenant_id: tenant,
        chain_seq: cut.chain_seq,
        event_id: cut.id,
        hash: cut.hash.clone(),
        occurred_at: cut.occurred_at,
        created_at: micros(now),
        kid: key.kid.clone(),
        jwt: String::new(),
        signed_at: now,
    };
    cp.jwt = sign(&cp, &key, issuer)?;
    repo::insert_checkpoint(&tx, &cp).await?;
    let removed = repo::delete_through(&tx, tenant, cut.chain_seq, before).await?;
    tx.commit().await?;
    tracing::info!(tenant.id = %tenant, removed, chain_seq = cut.chain_seq, "audit retention: events removed behind a checkpoint");
    Ok((removed, true))
}

/// Re-signs each tenant's newest checkpoint whose key is not the newest published key.
async fn resign(db: &Db, keys: &KeyRing, issuer: &str) -> Result<u64, ApiError> {
    let Some(key) = keys.current().newest().cloned() else {
        return Ok(0);
    };
    let c = db.get().await?;
    let stale = repo::latest_checkpoints_not_signed_by(&c, &key.kid).await?;
    for cp in &stale {
        let jwt = sign(cp, &key, issuer)?;
        repo::resign_checkpoint(&c, cp.tenant_id, cp.chain_seq, &key.kid, &jwt).await?;
    }
    Ok(stale.len() as u64)
}
