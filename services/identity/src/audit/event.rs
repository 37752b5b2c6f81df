//! Audit events: what is appended, what is stored, and the hash chain over them.
//!
//! Chain: each tenant's events are numbered 1, 2, ... (`chain_seq`) and
//! `hash = SHA-256(prev_hash || canonical(event))`, where the first `prev_hash` is 32 zero
//! bytes and `canonical` is the JSON array
//! `[id, tenant_id, chain_seq, actor, action, outcome, target, details, occurred_at]`
//! (details with sorted keys, time in RFC 3339 UTC with microseconds).

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::crypto::sha256;

/// The chain of events that belong to no tenant (service clients, signing keys).
pub const SYSTEM_TENANT: Uuid = Uuid::nil();

/// Whether the action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused.
    Failure,
}

impl Outcome {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "success" => Ok(Self::Success),
            "failure" => Ok(Self::Failure),
            _ => Err("must be success or failure".to_owned()),
        }
    }
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Whose chain it joins.
    pub tenant_id: Uuid,
    /// Who acted: `client:<client_id>`, `system` or `anonymous`.
    pub actor: String,
    /// What happened (`agent.created`, `token.issued`, ...).
    pub action: &'static str,
    /// Success or failure.
    pub outcome: Outcome,
    /// What it happened to: `agent:<id>`, `credential:<id>`, `tenant:<id>`, `token:<jti>`.
    pub target: Option<String>,
    /// Details; never secrets.
    pub details: serde_json::Value,
}

impl NewEvent {
    /// An event with empty details.
    pub fn new(
        tenant_id: Uuid,
        actor: impl Into<String>,
        action: &'static str,
        target: Option<String>,
    ) -> Self {
        Self {
            tenant_id,
            actor: actor.into(),
            action,
            outcome: Outcome::Success,
            target,
            details: serde_json::json!({}),
        }
    }

    /// Sets the details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }

    /// Marks it a failure.
    pub fn failed(mut self) -> Self {
        self.outcome = Outcome::Failure;
        self
    }
}

/// An event as stored (and as the hash covers it).
#[derive(Debug, Clone)]
pub struct ChainedEvent {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Tenant.
    pub tenant_id: Uuid,
    /// Position in the tenant's chain.
    pub chain_seq: i64,
    /// Who acted.
    pub actor: String,
    /// What happened.
    pub action: String,
    /// Success or failure.
    pub outcome: Outcome,
    /// Target.
    pub target: Option<String>,
    /// Details.
    pub details: serde_json::Value,
    /// When (microsecond precision, UTC).
    pub occurred_at: OffsetDateTime,
    /// Previous hash in the chain.
    pub prev_hash: Vec<u8>,
    /// This event's hash.
    pub hash: Vec<u8>,
}

/// RFC 3339 UTC with microseconds, as the hash covers it.
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// `t` truncated to microseconds (PostgreSQL's precision).
pub fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

/// The bytes the hash covers: a JSON array. Object keys come out sorted because
/// `serde_json::Map` is a `BTreeMap` (the `preserve_order` feature stays off; a test guards
/// it), so the same event always encodes the same way, also after a round trip through jsonb.
pub fn canonical_bytes(e: &ChainedEvent) -> Vec<u8> {
    serde_json::to_vec(&(
        &e.id,
        &e.tenant_id,
        e.chain_seq,
        &e.actor,
        &e.action,
        &e.outcome,
        &e.target,
        &e.details,
        format_time(e.occurred_at),
    ))
    .unwrap_or_default()
}

/// `SHA-256(prev_hash || canonical(event))`.
pub fn chain_hash(prev_hash: &[u8], e: &ChainedEvent) -> Vec<u8> {
    let mut buf = prev_hash.to_vec();
    buf.extend_from_slice(&canonical_bytes(e));
    sha256(&buf).to_vec()
}

/// The head of each tenant's chain: last `chain_seq` and its hash.
pub type Heads = BTreeMap<Uuid, (i64, Vec<u8>)>;

/// Chains `events` onto `heads` (a missing tenant starts at the genesis head), advancing
/// `heads` to the new heads. All events of one call share one timestamp.
pub fn chain(events: &[NewEvent], heads: &mut Heads) -> Vec<ChainedEvent> {
    let now = micros(OffsetDateTime::now_utc());
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let head = heads
            .entry(e.tenant_id)
            .or_insert_with(|| (0, vec![0u8; 32]));
        let mut ev = ChainedEvent {
            id: Uuid::now_v7(),
            tenant_id: e.tenant_id,
            chain_seq: head.0 + 1,
            actor: e.actor.clone(),
            action: e.action.to_owned(),
            outcome: e.outcome,
            target: e.target.clone(),
            details: e.details.clone(),
            occurred_at: now,
            prev_hash: std::mem::take(&mut head.1),
            hash: Vec::new(),
        };
        ev.hash = chain_hash(&ev.prev_hash, &ev);
        *head = (ev.chain_seq, ev.hash.clone());
        out.push(ev);
    }
    out
}

/// The distinct tenants of `events`, sorted (the lock order).
pub fn tenants_of(events: &[NewEvent]) -> Vec<Uuid> {
    let mut t: Vec<Uuid> = events.iter().map(|e| e.tenant_id).collect();
    t.sort();
    t.dedup();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(details: serde_json::Value) -> ChainedEvent {
        ChainedEvent {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            chain_seq: 1,
            actor: "system".into(),
            action: "agent.created".into(),
            outcome: Outcome::Success,
            target: None,
            details,
            occurred_at: micros(OffsetDateTime::UNIX_EPOCH),
            prev_hash: vec![0; 32],
            hash: vec![],
        }
    }

    #[test]
    fn json_objects_serialize_with_sorted_keys() {
        // If a dependency ever enables serde_json's preserve_order, hashes would depend on
        // insertion order; this test fails first.
        let v = serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}});
        assert_eq!(v.to_string(), r#"{"a":{"c":3,"d":2},"b":1}"#);
    }

    #[test]
    fn key_order_does_not_change_the_hash_but_content_does() {
        let a = event(serde_json::json!({"b": 1, "a": {"y": 2, "x": 1}}));
        let b = event(serde_json::json!({"a": {"x": 1, "y": 2}, "b": 1}));
        assert_eq!(chain_hash(&[0; 32], &a), chain_hash(&[0; 32], &b));
        let c = event(serde_json::json!({"a": {"x": 1, "y": 3}, "b": 1}));
        assert_ne!(chain_hash(&[0; 32], &a), chain_hash(&[0; 32], &c));
        assert_ne!(chain_hash(&[1; 32], &a), chain_hash(&[0; 32], &a));
    }
}
