//! The SOC 2 control checklist: the controls AgentIdP evaluates for a tenant, each mapped
//! to Trust Services Criteria, and how each is decided from the report's facts.

use serde::Serialize;

/// Credentials older than this must have been rotated at least once within it.
pub const ROTATION_MAX_AGE_DAYS: i64 = 90;
/// Credentials expiring sooner than this need attention.
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// One control of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Control {
    /// Stable id.
    pub id: &'static str,
    /// Trust Services Criteria it supports.
    pub criteria: &'static [&'static str],
    /// Short title.
    pub title: &'static str,
    /// What passing means.
    pub description: &'static str,
}

/// Every control, in report order.
pub const CONTROLS: [Control; 6] = [
    Control {
        id: "agent-identity",
        criteria: &["CC6.1"],
        title: "Every active agent has a verifiable identity",
        description: "Each active agent has a W3C DID (did:web) backed by its own key.",
    },
    Control {
        id: "credential-rotation",
        criteria: &["CC6.1", "CC6.2"],
        title: "Agent credentials are rotated",
        description: "No active credential has gone more than 90 days without being issued or rotated.",
    },
    Control {
        id: "credential-expiry",
        criteria: &["CC6.2"],
        title: "Credential expiry is managed",
        description: "No active credential expires within the next 7 days (or has expired) without a replacement plan.",
    },
    Control {
        id: "access-removal",
        criteria: &["CC6.2", "CC6.3"],
        title: "Access is removed when agents are retired",
        description: "No decommissioned agent holds an active credential.",
    },
    Control {
        id: "audit-integrity",
        criteria: &["CC7.2", "CC4.1"],
        title: "The audit trail is complete and tamper-evident",
        description: "The tenant's hash-chained audit log verifies from its first (or checkpointed) event to its head.",
    },
    Control {
        id: "key-rotation",
        criteria: &["CC6.1", "CC6.7"],
        title: "Token signing keys are rotated",
        description: "The active token signing key is younger than the rotation interval (plus one day).",
    },
];

/// How a control came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The control holds.
    Pass,
    /// The control does not hold.
    Fail,
    /// It could not be decided (a source was unavailable).
    Unknown,
}

/// A control's result with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct ControlResult {
    /// The control's id.
    pub id: &'static str,
    /// Its criteria.
    pub criteria: &'static [&'static str],
    /// Its title.
    pub title: &'static str,
    /// `pass`, `fail` or `unknown`.
    pub status: Outcome,
    /// What was found.
    pub evidence: String,
}

/// The catalogue entry of `id`.
pub fn control(id: &str) -> Option<&'static Control> {
    CONTROLS.iter().find(|c| c.id == id)
}

/// A result for the control `id` (which must be in [`CONTROLS`]).
pub fn result(id: &'static str, status: Outcome, evidence: String) -> ControlResult {
    let (criteria, title) = control(id).map_or((&[][..], ""), |c| (c.criteria, c.title));
    ControlResult {
        id,
        criteria,
        title,
        status,
        evidence,
    }
}

/// `Pass` when `ok`, else `Fail`.
pub fn pass_if(ok: bool) -> Outcome {
    if ok { Outcome::Pass } else { Outcome::Fail }
}
