//! Report building from chosen facts.

use domain::AgentSnapshot;
use domain::audit::{BrokenLink, ChainLink, SigningKeyInfo};
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

fn agent(status: &str, has_did_key: bool) -> AgentRow {
    AgentRow {
        snapshot: AgentSnapshot {
            id: Uuid::new_v4(),
            name: format!("{status} agent"),
            description: String::new(),
            agent_type: "router".into(),
            version: "1.0.0".into(),
            capabilities: vec![],
            owner: "o".into(),
            deployment_env: "production".into(),
            tags: vec![],
            listed: true,
            status: status.into(),
            did: "did:web:x".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        },
        publisher: None,
        has_did_key,
    }
}

fn cred(
    age_days: i64,
    rotated_days_ago: Option<i64>,
    expires_in_days: Option<i64>,
    agent_status: &str,
) -> CredentialFacts {
    CredentialFacts {
        id: Uuid::new_v4(),
        agent_id: Uuid::new_v4(),
        client_id: "c".into(),
        created_at: NOW - time::Duration::days(age_days),
        expires_at: expires_in_days.map(|d| NOW + time::Duration::days(d)),
        rotated_at: rotated_days_ago.map(|d| NOW - time::Duration::days(d)),
        agent_status: agent_status.into(),
    }
}

fn key(status: &str, active_days_ago: i64) -> SigningKeyInfo {
    SigningKeyInfo {
        kid: format!("{status}-key"),
        alg: "ES256".into(),
        source: "generated".into(),
        created_at: NOW - time::Duration::days(active_days_ago + 1),
        activates_at: NOW - time::Duration::days(active_days_ago),
        status: status.into(),
    }
}

fn chain(valid: bool) -> ChainReport {
    ChainReport {
        tenant_id: Uuid::nil(),
        valid,
        checked: 12,
        head: Some(ChainLink {
            chain_seq: 12,
            event_id: Uuid::nil(),
            hash: "ab".into(),
        }),
        first_broken: (!valid).then(|| BrokenLink {
            chain_seq: 7,
            event_id: None,
            reason: "hash_mismatch".into(),
        }),
        checkpoint: None,
        verified_at: NOW,
    }
}

fn status_of(report: &Value, id: &str) -> String {
    report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_control_passes_on_a_healthy_tenant() {
    let report = build(&Inputs {
        tenant_id: Uuid::nil(),
        now: NOW,
        agents: vec![agent("active", true), agent("suspended", true)],
        credentials: vec![
            cred(10, None, None, "active"),
            cred(200, Some(30), Some(30), "active"),
        ],
        chain: Ok(chain(true)),
        keys: Ok(SigningKeys {
            keys: vec![key("next", -1), key("active", 20), key("retired", 110)],
            rotation_interval_secs: 90 * 86_400,
        }),
    });
    assert_eq!(report["summary"]["passed"], 6, "{report}");
    assert_eq!(report["agents"]["suspended"], 1);
    assert_eq!(report["credentials"]["oldest_age_days"], 200);
    assert_eq!(report["credentials"]["never_rotated"]["count"], 1);
    assert_eq!(report["signing_keys"]["active_kid"], "active-key");
    assert_eq!(report["signing_keys"]["next_key_published"], true);
    assert_eq!(report["audit_chain"]["status"], "valid");
}

#[test]
fn each_problem_fails_its_own_control_with_evidence() {
    let report = build(&Inputs {
        tenant_id: Uuid::nil(),
        now: NOW,
        agents: vec![agent("active", false), agent("active", true)],
        credentials: vec![
            cred(120, None, None, "active"),
            cred(5, None, Some(2), "active"),
            cred(5, None, Some(-1), "decommissioned"),
        ],
        chain: Ok(chain(false)),
        keys: Ok(SigningKeys {
            keys: vec![key("active", 120)],
            rotation_interval_secs: 90 * 86_400,
        }),
    });
    for id in [
        "agent-identity",
        "credential-rotation",
        "credential-expiry",
        "access-removal",
        "audit-integrity",
        "key-rotation",
    ] {
        assert_eq!(status_of(&report, id), "fail", "{id}: {report}");
    }
    assert_eq!(report["agents"]["active_without_did"]["count"], 1);
    assert_eq!(report["credentials"]["expiring_within_7_days"]["count"], 2);
    assert_eq!(
        report["credentials"]["held_by_decommissioned_agents"]["count"],
        1
    );
    assert_eq!(report["audit_chain"]["first_broken"]["chain_seq"], 7);
    assert_eq!(report["signing_keys"]["status"], "overdue");
    let evidence = report["controls"][4]["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("position 7 (hash_mismatch)"),
        "{evidence}"
    );
}

#[test]
fn unreachable_sources_are_unknown_not_failures() {
    let report = build(&Inputs {
        tenant_id: Uuid::nil(),
        now: NOW,
        agents: vec![],
        credentials: vec![],
        chain: Err("identity answered HTTP 404".into()),
        keys: Err("connection refused".into()),
    });
    assert_eq!(status_of(&report, "audit-integrity"), "unknown");
    assert_eq!(status_of(&report, "key-rotation"), "unknown");
    assert_eq!(report["audit_chain"]["error"], "identity answered HTTP 404");
    assert_eq!(
        report["summary"],
        json!({"passed": 4, "failed": 0, "unknown": 2})
    );
    assert_eq!(report["credentials"]["average_age_days"], Value::Null);
}
