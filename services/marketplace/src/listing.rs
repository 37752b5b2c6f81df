//! A listing as the projection stores it, and as the public API shows it.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// A listing row (the columns the API shows).
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The agent's id.
    pub id: Uuid,
    /// The publishing tenant's name.
    pub publisher: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// `AgentType` wire form.
    pub agent_type: String,
    /// Semantic version.
    pub version: String,
    /// `resource:action` strings.
    pub capabilities: Vec<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// `development`, `staging` or `production`.
    pub deployment_env: String,
    /// `did:web:...`.
    pub did: String,
    /// The public JWK of the agent's DID key.
    pub public_jwk: Option<Value>,
    /// Registered.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// Links of a listing.
#[derive(Debug, Serialize)]
pub struct Links {
    /// This listing.
    #[serde(rename = "self")]
    pub this: String,
    /// The agent's A2A agent card (served by identity).
    pub agent_card: String,
    /// The agent's DID document (served by identity).
    pub did_document: String,
}

/// A listing in API responses.
#[derive(Debug, Serialize)]
pub struct ListingDto<'a> {
    id: Uuid,
    name: &'a str,
    description: &'a str,
    agent_type: &'a str,
    version: &'a str,
    capabilities: &'a [String],
    tags: &'a [String],
    publisher: &'a str,
    deployment_env: &'a str,
    did: &'a str,
    created_at: String,
    updated_at: String,
    links: Links,
    /// Only on `GET /api/v1/marketplace/agents/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    did_document: Option<Value>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl Listing {
    /// Its links; `public_base` is `PUBLIC_URL` without a trailing slash.
    pub fn links(&self, public_base: &str) -> Links {
        let id = self.id;
        Links {
            this: format!("{public_base}/api/v1/marketplace/agents/{id}"),
            agent_card: format!("{public_base}/agents/{id}/.well-known/agent-card.json"),
            did_document: format!("{public_base}/agents/{id}/did.json"),
        }
    }

    /// The search-result form.
    pub fn summary(&self, public_base: &str) -> ListingDto<'_> {
        ListingDto {
            id: self.id,
            name: &self.name,
            description: &self.description,
            agent_type: &self.agent_type,
            version: &self.version,
            capabilities: &self.capabilities,
            tags: &self.tags,
            publisher: &self.publisher,
            deployment_env: &self.deployment_env,
            did: &self.did,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            links: self.links(public_base),
            did_document: None,
        }
    }

    /// The detail form: the summary plus the agent's DID document.
    pub fn detail(&self, public_base: &str) -> ListingDto<'_> {
        let keys: Vec<Value> = self.public_jwk.iter().cloned().collect();
        ListingDto {
            did_document: Some(domain::did::document(&self.did, &keys)),
            ..self.summary(public_base)
        }
    }
}
