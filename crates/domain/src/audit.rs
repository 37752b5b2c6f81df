//! Wire types of the audit log that other services read: the chain verification report
//! (`GET /api/v1/audit/verify`, and `GET /internal/v1/audit/integrity/{tenant}` for
//! services) and the signing-key inventory (`GET /internal/v1/signing-keys`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::wire::wire_enum;

wire_enum!(
    /// How an audited action ended, as stored in `audit_events.outcome` and carried by the
    /// change feed.
    Outcome {
        /// It happened.
        Success => "success",
        /// It was refused.
        Failure => "failure",
    }
);

/// The result of walking one tenant's audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// Whose chain.
    pub tenant_id: Uuid,
    /// Whether every link holds.
    pub valid: bool,
    /// Events whose hash was recomputed.
    pub checked: u64,
    /// The last event of the chain (none for an empty chain).
    pub head: Option<ChainLink>,
    /// The first link that does not hold.
    pub first_broken: Option<BrokenLink>,
    /// The signed checkpoint the walk started from, when older events were removed by
    /// retention.
    pub checkpoint: Option<ChainLink>,
    /// When the walk ran.
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: OffsetDateTime,
}

/// A position in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Position in the tenant's chain (1, 2, ...).
    pub chain_seq: i64,
    /// The event at that position.
    pub event_id: Uuid,
    /// Its hash, lowercase hex.
    pub hash: String,
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Position of the first event that fails (or where one is missing).
    pub chain_seq: i64,
    /// That event, when it exists.
    pub event_id: Option<Uuid>,
    /// `hash_mismatch` (its content changed), `prev_hash_mismatch` (an earlier event was
    /// replaced), `missing_event` (a gap), `head_mismatch` (events at the end are missing),
    /// `checkpoint_invalid` (the retention checkpoint's signature does not verify).
    pub reason: String,
}

/// One token signing key, without its private part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    /// Key id (`kid` header of the tokens it signs).
    pub kid: String,
    /// `ES256`, `RS256` or `EdDSA`.
    pub alg: String,
    /// `generated` or `imported`.
    pub source: String,
    /// When it was made (and published).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it starts (or started) signing.
    #[serde(with = "time::serde::rfc3339")]
    pub activates_at: OffsetDateTime,
    /// `next` (published, not yet signing), `active` (signing) or `retired` (published
    /// until its last token expires).
    pub status: String,
}

/// The signing keys identity publishes, and its rotation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeys {
    /// Published keys, newest first.
    pub keys: Vec<SigningKeyInfo>,
    /// `SIGNING_KEY_ROTATION_INTERVAL_SECS`.
    pub rotation_interval_secs: u64,
}
