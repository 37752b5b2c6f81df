//! The writable fields of an agent, declared once: what registration sets, what a patch
//! changes, what identity stores and what the change feed carries (flattened into
//! [`crate::AgentSnapshot`]'s keys).

use serde::{Deserialize, Serialize};

use crate::agent::{AgentType, DeploymentEnv};
use crate::capability::Capability;
use crate::tag::Tag;
use crate::version::Version;

/// An agent's writable fields, each checked by its rule (see [`crate::NewAgent::validate`]).
/// Serialized with the keys of the API (`name`, `description`, `agent_type`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFields {
    /// Display name ([`crate::TextRule::NAME`]).
    pub name: String,
    /// Free text ([`crate::TextRule::DESCRIPTION`]).
    pub description: String,
    /// What it does.
    pub agent_type: AgentType,
    /// Its version.
    pub version: Version,
    /// What it may do; bounds the scopes of its credentials.
    pub capabilities: Vec<Capability>,
    /// Responsible person or team ([`crate::TextRule::OWNER`]).
    pub owner: String,
    /// Where it runs.
    pub deployment_env: DeploymentEnv,
    /// Labels.
    pub tags: Vec<Tag>,
    /// Shown in the marketplace.
    pub listed: bool,
}

impl AgentFields {
    /// The fields' names (the API's keys), in declaration order.
    pub const NAMES: [&'static str; 9] = [
        "name",
        "description",
        "agent_type",
        "version",
        "capabilities",
        "owner",
        "deployment_env",
        "tags",
        "listed",
    ];

    /// The capabilities as strings.
    pub fn capability_strs(&self) -> Vec<&str> {
        self.capabilities.iter().map(Capability::as_str).collect()
    }

    /// The tags as strings.
    pub fn tag_strs(&self) -> Vec<&str> {
        self.tags.iter().map(Tag::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_with_the_api_keys_and_plain_strings() {
        let f = AgentFields {
            name: "Invoice reader".into(),
            description: String::new(),
            agent_type: AgentType::Extractor,
            version: Version::parse("1.4.0").unwrap(),
            capabilities: vec![Capability::parse("invoices:read").unwrap()],
            owner: "finance".into(),
            deployment_env: DeploymentEnv::Production,
            tags: vec![Tag::parse("pdf").unwrap()],
            listed: true,
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "name": "Invoice reader",
                "description": "",
                "agent_type": "extractor",
                "version": "1.4.0",
                "capabilities": ["invoices:read"],
                "owner": "finance",
                "deployment_env": "production",
                "tags": ["pdf"],
                "listed": true,
            })
        );
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut names = AgentFields::NAMES.to_vec();
        names.sort_unstable();
        assert_eq!(keys, names);
        assert_eq!(serde_json::from_value::<AgentFields>(v).unwrap(), f);
        assert_eq!(f.capability_strs(), ["invoices:read"]);
        assert_eq!(f.tag_strs(), ["pdf"]);
    }
}
