//! Agent cards: an agent as an A2A `AgentCard` (protocol v1.0, the `lf.a2a.v1.AgentCard`
//! message of the `a2a-sdk` package, in its protobuf JSON form) and as an AGNTCY OASF record
//! (schema [`OASF_SCHEMA_VERSION`]). Pure builders, shared by identity (which serves each
//! agent's card at `/agents/<id>/.well-known/agent-card.json`) and analytics (which exports
//! every active agent's cards for compliance).
//!
//! AgentIdP knows an agent's identity, not where the agent runs, so the card's one
//! interface is the agent's home at this deployment (`<PUBLIC_URL>/agents/<id>`, where its
//! DID document and card live), and its security scheme is our OAuth 2.0 client_credentials
//! flow with the agent's capabilities as scopes.

use serde_json::{Map, Value, json};

use crate::feed::AgentSnapshot;

/// The A2A protocol version the cards follow.
pub const A2A_PROTOCOL_VERSION: &str = "1.0";
/// The A2A schema the cards are checked against: `AgentCard` of `a2a-sdk` 1.3.0.
pub const A2A_SCHEMA: &str = "lf.a2a.v1.AgentCard (a2a-sdk 1.3.0)";
/// The OASF schema version of the records.
pub const OASF_SCHEMA_VERSION: &str = "0.8.0";
/// The name of the security scheme in every card.
pub const SECURITY_SCHEME: &str = "agentidp_oauth2";
/// Media type of what the agents exchange, as far as AgentIdP knows.
const MEDIA_TYPE: &str = "application/json";

/// Where a card is built for.
#[derive(Debug, Clone, Copy)]
pub struct CardContext<'a> {
    /// `PUBLIC_URL` without a trailing slash.
    pub base_url: &'a str,
    /// The tenant's name, shown as the provider (when known).
    pub publisher: Option<&'a str>,
}

impl CardContext<'_> {
    fn base(&self) -> &str {
        self.base_url.trim_end_matches('/')
    }
}

/// `<base>/agents/<id>`: the agent's home at this deployment.
pub fn agent_url(base_url: &str, agent: &AgentSnapshot) -> String {
    format!("{}/agents/{}", base_url.trim_end_matches('/'), agent.id)
}

/// `<base>/agents/<id>/.well-known/agent-card.json`.
pub fn card_url(base_url: &str, agent: &AgentSnapshot) -> String {
    format!("{}/.well-known/agent-card.json", agent_url(base_url, agent))
}

/// The agent's description, or a generated one when it has none (both formats require a
/// non-empty description).
fn description(agent: &AgentSnapshot) -> String {
    if agent.description.trim().is_empty() {
        format!(
            "{} agent {} registered with AgentIdP",
            agent.agent_type, agent.name
        )
    } else {
        agent.description.clone()
    }
}

/// `documents:read` → `Documents: read`.
fn capability_title(cap: &str) -> String {
    let (resource, action) = cap.split_once(':').unwrap_or((cap, ""));
    let mut title: String = resource.replace(['_', '-', '.'], " ");
    if let Some(first) = title.get(..1) {
        title = format!("{}{}", first.to_uppercase(), &title[1..]);
    }
    if action.is_empty() {
        title
    } else {
        format!("{title}: {action}")
    }
}

fn a2a_skills(agent: &AgentSnapshot) -> Vec<Value> {
    if agent.capabilities.is_empty() {
        return vec![json!({
            "id": agent.agent_type,
            "name": capability_title(&agent.agent_type),
            "description": format!("Works as a {} agent.", agent.agent_type),
            "tags": [agent.agent_type],
        })];
    }
    agent
        .capabilities
        .iter()
        .map(|cap| {
            let (resource, action) = cap.split_once(':').unwrap_or((cap, ""));
            let mut tags = vec![resource.to_owned()];
            if !action.is_empty() {
                tags.push(action.to_owned());
            }
            tags.push(agent.agent_type.clone());
            json!({
                "id": cap,
                "name": capability_title(cap),
                "description": format!("May {action} {resource} (OAuth 2.0 scope {cap})."),
                "tags": tags,
            })
        })
        .collect()
}

/// The agent as an A2A v1.0 `AgentCard` (protobuf JSON names; no field outside the message).
pub fn a2a_card(agent: &AgentSnapshot, ctx: CardContext<'_>) -> Value {
    let base = ctx.base();
    let scopes: Map<String, Value> = agent
        .capabilities
        .iter()
        .map(|c| (c.clone(), Value::String(capability_title(c))))
        .collect();
    let mut card = json!({
        "name": agent.name,
        "description": description(agent),
        "version": agent.version,
        "supportedInterfaces": [{
            "url": agent_url(base, agent),
            "protocolBinding": "HTTP+JSON",
            "protocolVersion": A2A_PROTOCOL_VERSION,
        }],
        "capabilities": {
            "streaming": false,
            "pushNotifications": false,
            "extendedAgentCard": false,
        },
        "securitySchemes": {
            SECURITY_SCHEME: {
                "oauth2SecurityScheme": {
                    "description": "AgentIdP OAuth 2.0 client credentials; the agent's capabilities are its scopes.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": format!("{base}/oauth2/token"),
                            "scopes": scopes,
                        }
                    },
                    "oauth2MetadataUrl": format!("{base}/.well-known/oauth-authorization-server"),
                }
            }
        },
        "securityRequirements": [{
            "schemes": { SECURITY_SCHEME: { "list": agent.capabilities } }
        }],
        "defaultInputModes": [MEDIA_TYPE],
        "defaultOutputModes": [MEDIA_TYPE],
        "skills": a2a_skills(agent),
    });
    if let (Some(org), Some(obj)) = (
        ctx.publisher.filter(|p| !p.trim().is_empty()),
        card.as_object_mut(),
    ) {
        obj.insert(
            "provider".into(),
            json!({ "organization": org, "url": base }),
        );
    }
    card
}

/// The OASF skill (taxonomy class name) of an agent type.
pub fn oasf_skill(agent_type: &str) -> &'static str {
    match agent_type {
        "screener" => "natural_language_processing/ethical_interaction/content_moderation",
        "classifier" => "natural_language_processing/text_classification/topic_labeling",
        "extractor" => {
            "natural_language_processing/information_retrieval_synthesis/fact_extraction"
        }
        "summarizer" => "natural_language_processing/natural_language_generation/summarization",
        "orchestrator" => "agent_orchestration/task_decomposition",
        "router" => "agent_orchestration/agent_coordination",
        "monitor" => "evaluation_monitoring/performance_monitoring",
        _ => "tool_interaction/workflow_automation",
    }
}

/// The agent as an OASF record of schema [`OASF_SCHEMA_VERSION`].
pub fn oasf_record(agent: &AgentSnapshot, ctx: CardContext<'_>) -> Value {
    let base = ctx.base();
    let mut authors = vec![agent.owner.clone()];
    if let Some(p) = ctx.publisher.filter(|p| !p.trim().is_empty()) {
        authors.push(p.to_owned());
    }
    json!({
        "name": agent.name,
        "version": agent.version,
        "schema_version": OASF_SCHEMA_VERSION,
        "description": description(agent),
        "authors": authors,
        "created_at": agent.created_at,
        "skills": [{ "name": oasf_skill(&agent.agent_type) }],
        "domains": [],
        "locators": [{ "type": "unspecified", "url": card_url(base, agent) }],
        "annotations": {
            "agentidp.agent_id": agent.id.to_string(),
            "agentidp.did": agent.did,
            "agentidp.agent_type": agent.agent_type,
            "agentidp.deployment_env": agent.deployment_env,
            "agentidp.capabilities": agent.capabilities.join(","),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(caps: &[&str], description: &str) -> AgentSnapshot {
        AgentSnapshot {
            id: uuid::Uuid::nil(),
            name: "Doc reader".into(),
            description: description.into(),
            agent_type: "extractor".into(),
            version: "1.2.0".into(),
            capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
            owner: "team@example.com".into(),
            deployment_env: "production".into(),
            tags: vec![],
            listed: true,
            status: "active".into(),
            did: "did:web:example.com:agents:0".into(),
            created_at: "2026-01-02T03:04:05Z".into(),
            updated_at: "2026-01-02T03:04:05Z".into(),
        }
    }

    const CTX: CardContext<'static> = CardContext {
        base_url: "https://idp.example.com/",
        publisher: Some("Acme"),
    };

    #[test]
    fn a2a_card_points_at_our_token_endpoint_with_capabilities_as_scopes() {
        let card = a2a_card(&agent(&["documents:read"], "Reads"), CTX);
        let flow = &card["securitySchemes"][SECURITY_SCHEME]["oauth2SecurityScheme"]["flows"]["clientCredentials"];
        assert_eq!(flow["tokenUrl"], "https://idp.example.com/oauth2/token");
        assert_eq!(flow["scopes"]["documents:read"], "Documents: read");
        assert_eq!(card["skills"][0]["id"], "documents:read");
        assert_eq!(card["skills"][0]["tags"][2], "extractor");
        assert_eq!(card["supportedInterfaces"][0]["protocolVersion"], "1.0");
        assert_eq!(
            card["supportedInterfaces"][0]["url"],
            "https://idp.example.com/agents/00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(card["provider"]["organization"], "Acme");
    }

    #[test]
    fn empty_description_and_capabilities_still_give_required_fields() {
        let a = agent(&[], "  ");
        let card = a2a_card(
            &a,
            CardContext {
                publisher: None,
                ..CTX
            },
        );
        assert!(card["description"].as_str().unwrap().contains("extractor"));
        assert_eq!(card["skills"].as_array().unwrap().len(), 1);
        assert!(card.get("provider").is_none());
        let rec = oasf_record(&a, CTX);
        assert!(!rec["description"].as_str().unwrap().is_empty());
    }

    #[test]
    fn oasf_record_carries_required_fields() {
        let rec = oasf_record(&agent(&["documents:read"], "Reads"), CTX);
        for f in [
            "name",
            "version",
            "schema_version",
            "description",
            "authors",
            "created_at",
            "skills",
            "locators",
        ] {
            assert!(rec.get(f).is_some(), "{f}");
        }
        assert_eq!(rec["schema_version"], OASF_SCHEMA_VERSION);
        assert_eq!(rec["authors"], json!(["team@example.com", "Acme"]));
        assert_eq!(
            rec["skills"][0]["name"],
            "natural_language_processing/information_retrieval_synthesis/fact_extraction"
        );
        assert!(
            rec["locators"][0]["url"]
                .as_str()
                .unwrap()
                .ends_with("/.well-known/agent-card.json")
        );
    }
}
