//! The change feed: identity's audit events as the other services read them from
//! `GET /internal/v1/events?after=<cursor>&limit=&wait=`.
//!
//! A [`FeedCursor`] is a position in the feed. Events come in cursor order; a consumer
//! applies a page and stores the page's `next` cursor in the same transaction as its
//! projection, then asks for the events after it. Delivery is at least once (a crash
//! between applying and storing repeats a page), the effect exactly once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::agent::AgentStatus;
use crate::agent_fields::AgentFields;

/// A position in the feed: the writing transaction, then the order within it. `0` (or
/// [`FeedCursor::START`]) is before the first event. Written `<tx>.<seq>` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FeedCursor {
    /// Transaction id of the event's writer.
    pub tx: i64,
    /// Order of the event within the feed.
    pub seq: i64,
}

impl FeedCursor {
    /// Before every event.
    pub const START: Self = Self { tx: 0, seq: 0 };
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::START {
            f.write_str("0")
        } else {
            write!(f, "{}.{}", self.tx, self.seq)
        }
    }
}

impl FromStr for FeedCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "must be 0 or a cursor returned by the feed";
        if s == "0" {
            return Ok(Self::START);
        }
        let (tx, seq) = s.split_once('.').ok_or(EXPECTED)?;
        let tx: i64 = tx.parse().map_err(|_| EXPECTED)?;
        let seq: i64 = seq.parse().map_err(|_| EXPECTED)?;
        if tx < 0 || seq < 0 {
            return Err(EXPECTED.to_owned());
        }
        Ok(Self { tx, seq })
    }
}

impl Serialize for FeedCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FeedCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEvent {
    /// Its position; a consumer that stored it resumes after it.
    pub cursor: FeedCursor,
    /// The audit event's id.
    pub id: Uuid,
    /// The tenant it belongs to (the nil UUID for the system's own events).
    pub tenant_id: Uuid,
    /// Who acted.
    pub actor: String,
    /// What happened; see [`actions`].
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// What it happened to (`agent:<id>`, `token:<jti>`, ...).
    pub target: Option<String>,
    /// Details; agent events carry the agent as [`AgentSnapshot`] under `agent`, the
    /// tenant's name under `publisher` and the public JWK of the agent's DID key under
    /// `public_jwk` (its DID document is [`crate::did::document`] of the two).
    pub details: serde_json::Value,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl FeedEvent {
    /// The agent of an agent event, if it carries one.
    pub fn agent(&self) -> Option<AgentSnapshot> {
        serde_json::from_value(self.details.get("agent")?.clone()).ok()
    }

    /// Whether the action succeeded.
    pub fn succeeded(&self) -> bool {
        self.outcome == "success"
    }
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Events after the requested cursor, in order.
    pub events: Vec<FeedEvent>,
    /// Where to continue: the last event's cursor, or a later position when the feed
    /// established that nothing more can appear before it.
    pub next: FeedCursor,
}

/// An agent as identity's API shows it, carried in agent events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `screener`, `classifier`, ... (see [`crate::AgentType`]).
    pub agent_type: String,
    /// Version string.
    pub version: String,
    /// `resource:action` strings.
    pub capabilities: Vec<String>,
    /// Responsible person or team.
    pub owner: String,
    /// `development`, `staging` or `production`.
    pub deployment_env: String,
    /// Labels.
    pub tags: Vec<String>,
    /// Shown in the marketplace.
    pub listed: bool,
    /// `active`, `suspended` or `decommissioned`.
    pub status: String,
    /// `did:web:...`.
    pub did: String,
    /// Registration time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl AgentSnapshot {
    /// The snapshot of an agent with `fields` (in their wire forms).
    pub fn new(
        id: Uuid,
        fields: &AgentFields,
        status: AgentStatus,
        did: String,
        created_at: String,
        updated_at: String,
    ) -> Self {
        Self {
            id,
            name: fields.name.clone(),
            description: fields.description.clone(),
            agent_type: fields.agent_type.as_str().to_owned(),
            version: fields.version.to_string(),
            capabilities: fields.capabilities.iter().map(|c| c.to_string()).collect(),
            owner: fields.owner.clone(),
            deployment_env: fields.deployment_env.as_str().to_owned(),
            tags: fields.tags.iter().map(|t| t.to_string()).collect(),
            listed: fields.listed,
            status: status.as_str().to_owned(),
            did,
            created_at,
            updated_at,
        }
    }
}

/// The actions identity records.
pub mod actions {
    /// A tenant signed up.
    pub const TENANT_CREATED: &str = "tenant.created";
    /// A tenant changed.
    pub const TENANT_UPDATED: &str = "tenant.updated";
    /// An agent was registered.
    pub const AGENT_CREATED: &str = "agent.created";
    /// An agent changed.
    pub const AGENT_UPDATED: &str = "agent.updated";
    /// An agent was suspended.
    pub const AGENT_SUSPENDED: &str = "agent.suspended";
    /// A suspended agent was reactivated.
    pub const AGENT_REACTIVATED: &str = "agent.reactivated";
    /// An agent was decommissioned.
    pub const AGENT_DECOMMISSIONED: &str = "agent.decommissioned";
    /// A credential was created.
    pub const CREDENTIAL_GENERATED: &str = "credential.generated";
    /// A credential's secret was rotated.
    pub const CREDENTIAL_ROTATED: &str = "credential.rotated";
    /// A credential was revoked.
    pub const CREDENTIAL_REVOKED: &str = "credential.revoked";
    /// A token was issued.
    pub const TOKEN_ISSUED: &str = "token.issued";
    /// A token request was refused.
    pub const TOKEN_REFUSED: &str = "token.refused";
    /// A token was revoked.
    pub const TOKEN_REVOKED: &str = "token.revoked";
    /// A tenant-admin client was created (through the API or `identity tenant-admin-reset`).
    pub const TENANT_CLIENT_CREATED: &str = "tenant.client.created";
    /// A tenant-admin client's secret was rotated.
    pub const TENANT_CLIENT_ROTATED: &str = "tenant.client.rotated";
    /// A tenant-admin client was deleted (its tokens revoked).
    pub const TENANT_CLIENT_DELETED: &str = "tenant.client.deleted";
    /// A resource server (an API of the tenant's that tokens may name) was registered.
    pub const RESOURCE_SERVER_CREATED: &str = "resource_server.created";
    /// A resource server changed.
    pub const RESOURCE_SERVER_UPDATED: &str = "resource_server.updated";
    /// A resource server was removed.
    pub const RESOURCE_SERVER_DELETED: &str = "resource_server.deleted";

    /// A federation trust policy was created.
    pub const FEDERATION_POLICY_CREATED: &str = "federation.policy.created";
    /// A federation trust policy changed.
    pub const FEDERATION_POLICY_UPDATED: &str = "federation.policy.updated";
    /// A federation trust policy was deleted.
    pub const FEDERATION_POLICY_DELETED: &str = "federation.policy.deleted";
    /// A token was issued by token exchange (RFC 8693): federated or delegated.
    pub const TOKEN_EXCHANGED: &str = "token.exchanged";
    /// A standing delegation between two agents was granted.
    pub const DELEGATION_CREATED: &str = "delegation.created";
    /// A standing delegation was withdrawn (every token derived from it is revoked).
    pub const DELEGATION_DELETED: &str = "delegation.deleted";

    /// The event types a webhook may subscribe to (successful events of these actions).
    pub const WEBHOOK_EVENT_TYPES: [&str; 22] = [
        AGENT_CREATED,
        AGENT_UPDATED,
        AGENT_SUSPENDED,
        AGENT_REACTIVATED,
        AGENT_DECOMMISSIONED,
        CREDENTIAL_GENERATED,
        CREDENTIAL_ROTATED,
        CREDENTIAL_REVOKED,
        TOKEN_ISSUED,
        TOKEN_REVOKED,
        TENANT_CLIENT_CREATED,
        TENANT_CLIENT_ROTATED,
        TENANT_CLIENT_DELETED,
        RESOURCE_SERVER_CREATED,
        RESOURCE_SERVER_UPDATED,
        RESOURCE_SERVER_DELETED,
        FEDERATION_POLICY_CREATED,
        FEDERATION_POLICY_UPDATED,
        FEDERATION_POLICY_DELETED,
        TOKEN_EXCHANGED,
        DELEGATION_CREATED,
        DELEGATION_DELETED,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{AgentType, DeploymentEnv};
    use crate::{Capability, Tag, Version};

    /// The snapshot's JSON as identity has always sent it: every key, plain strings.
    fn wire() -> serde_json::Value {
        serde_json::json!({
            "id": "0191e5a8-7e4c-7a3b-9f00-1234567890ab",
            "name": "Invoice reader",
            "description": "Reads invoices.\nAll of them.",
            "agent_type": "extractor",
            "version": "2.0.0-rc.1",
            "capabilities": ["invoices:read", "documents:*"],
            "owner": "finance",
            "deployment_env": "staging",
            "tags": ["pdf", "eu"],
            "listed": false,
            "status": "suspended",
            "did": "did:web:id.example:agents:0191e5a8-7e4c-7a3b-9f00-1234567890ab",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T03:04:05Z",
        })
    }

    fn fields() -> AgentFields {
        AgentFields {
            name: "Invoice reader".into(),
            description: "Reads invoices.\nAll of them.".into(),
            agent_type: AgentType::Extractor,
            version: Version::parse("2.0.0-rc.1").unwrap(),
            capabilities: vec![
                Capability::parse("invoices:read").unwrap(),
                Capability::parse("documents:*").unwrap(),
            ],
            owner: "finance".into(),
            deployment_env: DeploymentEnv::Staging,
            tags: vec![Tag::parse("pdf").unwrap(), Tag::parse("eu").unwrap()],
            listed: false,
        }
    }

    #[test]
    fn snapshots_keep_their_wire_shape() {
        let id: Uuid = "0191e5a8-7e4c-7a3b-9f00-1234567890ab".parse().unwrap();
        let s = AgentSnapshot::new(
            id,
            &fields(),
            AgentStatus::Suspended,
            format!("did:web:id.example:agents:{id}"),
            "2026-01-01T00:00:00Z".into(),
            "2026-01-02T03:04:05Z".into(),
        );
        assert_eq!(serde_json::to_value(&s).unwrap(), wire());
        assert_eq!(serde_json::from_value::<AgentSnapshot>(wire()).unwrap(), s);
        let event = FeedEvent {
            cursor: FeedCursor { tx: 1, seq: 1 },
            id,
            tenant_id: Uuid::nil(),
            actor: "a".into(),
            action: actions::AGENT_SUSPENDED.into(),
            outcome: "success".into(),
            target: None,
            details: serde_json::json!({ "agent": wire() }),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(event.agent(), Some(s));
    }

    #[test]
    fn cursors_round_trip_and_order() {
        let c: FeedCursor = "12.7".parse().unwrap();
        assert_eq!(c, FeedCursor { tx: 12, seq: 7 });
        assert_eq!(c.to_string(), "12.7");
        assert_eq!("0".parse::<FeedCursor>().unwrap(), FeedCursor::START);
        assert!(FeedCursor { tx: 12, seq: 9 } < FeedCursor { tx: 13, seq: 1 });
        for bad in ["", "x", "1", "1.", ".1", "-1.2", "1.2.3"] {
            assert!(bad.parse::<FeedCursor>().is_err(), "{bad}");
        }
    }
}
