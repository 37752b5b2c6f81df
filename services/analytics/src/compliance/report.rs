//! The compliance report of one tenant, built from the projection's agents and credentials
//! and from identity's audit-chain report and signing-key inventory. Pure: the caller
//! gathers the inputs; a source that could not be reached is an `Err` with its reason and
//! turns the dependent sections and controls `unknown`, never the whole report.

use domain::audit::{ChainReport, SigningKeys};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::controls::{EXPIRY_WARNING_DAYS, Outcome, ROTATION_MAX_AGE_DAYS, pass_if, result};
use crate::repo::agents::AgentRow;
use crate::repo::credentials::CredentialFacts;

/// Version of the report's shape; bumped on any incompatible change.
pub const REPORT_SCHEMA_VERSION: &str = "1.0";
/// Longest list of items in any section (the count is always complete).
pub const MAX_ITEMS: usize = 100;

/// What a report is built from.
#[derive(Debug)]
pub struct Inputs {
    /// The tenant.
    pub tenant_id: Uuid,
    /// When it is built.
    pub now: OffsetDateTime,
    /// The tenant's agents, every status.
    pub agents: Vec<AgentRow>,
    /// The tenant's active credentials.
    pub credentials: Vec<CredentialFacts>,
    /// The audit chain verification, or why it is unavailable.
    pub chain: Result<ChainReport, String>,
    /// The signing keys, or why they are unavailable.
    pub keys: Result<SigningKeys, String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (to - from).whole_days()
}

fn listed(items: Vec<Value>) -> Value {
    let count = items.len();
    json!({ "count": count, "items": items.into_iter().take(MAX_ITEMS).collect::<Vec<_>>() })
}

fn credential_item(c: &CredentialFacts, now: OffsetDateTime) -> Value {
    json!({
        "credential_id": c.id,
        "agent_id": c.agent_id,
        "client_id": c.client_id,
        "created_at": rfc3339(c.created_at),
        "age_days": days_between(c.created_at, now),
        "expires_at": c.expires_at.map(rfc3339),
        "rotated_at": c.rotated_at.map(rfc3339),
    })
}

/// Builds the report.
pub fn build(i: &Inputs) -> Value {
    let now = i.now;
    let count = |s: &str| i.agents.iter().filter(|a| a.snapshot.status == s).count();
    let active: Vec<&AgentRow> = i
        .agents
        .iter()
        .filter(|a| a.snapshot.status == "active")
        .collect();
    let without_did: Vec<Value> = active
        .iter()
        .filter(|a| !a.has_did_key)
        .map(|a| json!({"agent_id": a.snapshot.id, "name": a.snapshot.name}))
        .collect();
    let with_did = active.len() - without_did.len();

    let creds = &i.credentials;
    let ages: Vec<i64> = creds
        .iter()
        .map(|c| days_between(c.created_at, now))
        .collect();
    let warn_until = now + time::Duration::days(EXPIRY_WARNING_DAYS);
    let expiring: Vec<Value> = creds
        .iter()
        .filter(|c| c.expires_at.is_some_and(|e| e <= warn_until))
        .map(|c| credential_item(c, now))
        .collect();
    let never_rotated: Vec<Value> = creds
        .iter()
        .filter(|c| c.rotated_at.is_none())
        .map(|c| credential_item(c, now))
        .collect();
    let stale_cut = now - time::Duration::days(ROTATION_MAX_AGE_DAYS);
    let stale: Vec<&CredentialFacts> = creds
        .iter()
        .filter(|c| c.rotated_at.unwrap_or(c.created_at) < stale_cut)
        .collect();
    let orphaned: Vec<Value> = creds
        .iter()
        .filter(|c| c.agent_status == "decommissioned")
        .map(|c| credential_item(c, now))
        .collect();

    let (chain, chain_control) = chain_section(&i.chain);
    let (keys, keys_control) = keys_section(&i.keys, now);

    let controls = vec![
        result(
            "agent-identity",
            pass_if(without_did.is_empty()),
            format!(
                "{with_did} of {} active agents have a DID with a key",
                active.len()
            ),
        ),
        result(
            "credential-rotation",
            pass_if(stale.is_empty()),
            format!(
                "{} of {} active credentials not issued or rotated in the last {ROTATION_MAX_AGE_DAYS} days; {} never rotated",
                stale.len(),
                creds.len(),
                never_rotated.len()
            ),
        ),
        result(
            "credential-expiry",
            pass_if(expiring.is_empty()),
            format!(
                "{} active credentials expire within {EXPIRY_WARNING_DAYS} days or have expired",
                expiring.len()
            ),
        ),
        result(
            "access-removal",
            pass_if(orphaned.is_empty()),
            format!(
                "{} active credentials belong to decommissioned agents",
                orphaned.len()
            ),
        ),
        chain_control,
        keys_control,
    ];
    let tally = |o: Outcome| controls.iter().filter(|c| c.status == o).count();
    json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "tenant_id": i.tenant_id,
        "generated_at": rfc3339(now),
        "summary": {
            "passed": tally(Outcome::Pass),
            "failed": tally(Outcome::Fail),
            "unknown": tally(Outcome::Unknown),
        },
        "agents": {
            "active": active.len(),
            "suspended": count("suspended"),
            "decommissioned": count("decommissioned"),
            "active_with_did": with_did,
            "active_without_did": listed(without_did),
        },
        "credentials": {
            "active": creds.len(),
            "oldest_age_days": ages.iter().max(),
            "average_age_days": (!ages.is_empty())
                .then(|| ages.iter().sum::<i64>() as f64 / ages.len() as f64),
            "expiring_within_7_days": listed(expiring),
            "never_rotated": listed(never_rotated),
            "held_by_decommissioned_agents": listed(orphaned),
        },
        "audit_chain": chain,
        "signing_keys": keys,
        "controls": controls,
    })
}

fn chain_section(chain: &Result<ChainReport, String>) -> (Value, super::controls::ControlResult) {
    match chain {
        Ok(r) => {
            let section = json!({
                "status": if r.valid { "valid" } else { "broken" },
                "checked_events": r.checked,
                "head_seq": r.head.as_ref().map(|h| h.chain_seq),
                "first_broken": r.first_broken,
                "checkpoint_seq": r.checkpoint.as_ref().map(|c| c.chain_seq),
                "verified_at": rfc3339(r.verified_at),
            });
            let evidence = match &r.first_broken {
                None => format!("{} events verified; every link holds", r.checked),
                Some(b) => format!("chain breaks at position {} ({})", b.chain_seq, b.reason),
            };
            (
                section,
                result("audit-integrity", pass_if(r.valid), evidence),
            )
        }
        Err(e) => (
            json!({ "status": "unknown", "error": e }),
            result(
                "audit-integrity",
                Outcome::Unknown,
                format!("audit chain status unavailable from identity: {e}"),
            ),
        ),
    }
}

fn keys_section(
    keys: &Result<SigningKeys, String>,
    now: OffsetDateTime,
) -> (Value, super::controls::ControlResult) {
    let keys = match keys {
        Ok(k) => k,
        Err(e) => {
            return (
                json!({ "status": "unknown", "error": e }),
                result(
                    "key-rotation",
                    Outcome::Unknown,
                    format!("signing keys unavailable from identity: {e}"),
                ),
            );
        }
    };
    let interval_days = (keys.rotation_interval_secs / 86_400) as i64;
    let active = keys.keys.iter().find(|k| k.status == "active");
    let status_count = |s: &str| keys.keys.iter().filter(|k| k.status == s).count();
    let Some(active) = active else {
        return (
            json!({ "status": "no_active_key", "published_keys": keys.keys.len() }),
            result(
                "key-rotation",
                Outcome::Fail,
                "no active signing key".into(),
            ),
        );
    };
    let age = now - active.activates_at;
    let limit =
        time::Duration::seconds(keys.rotation_interval_secs as i64) + time::Duration::days(1);
    let current = age <= limit;
    let section = json!({
        "status": if current { "current" } else { "overdue" },
        "active_kid": active.kid,
        "alg": active.alg,
        "source": active.source,
        "active_since": rfc3339(active.activates_at),
        "active_key_age_days": age.whole_days(),
        "rotation_interval_days": interval_days,
        "next_key_published": status_count("next") > 0,
        "retired_keys": status_count("retired"),
        "published_keys": keys.keys.len(),
    });
    let evidence = format!(
        "active key {} has signed for {} days; rotation interval {interval_days} days",
        active.kid,
        age.whole_days()
    );
    (section, result("key-rotation", pass_if(current), evidence))
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
