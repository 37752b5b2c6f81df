//! Registering and changing an agent: the request bodies and their validation, which
//! reports every problem at once as `(field, message)` pairs (`name`, `capabilities[2]`,
//! `body`, ...), in the order of [`AgentFields::NAMES`].

use std::fmt::Display;

use serde::Deserialize;

use crate::agent::{AgentType, DeploymentEnv};
use crate::agent_fields::AgentFields;
use crate::capability::Capability;
use crate::problems::FieldProblems;
use crate::tag::Tag;
use crate::text::TextRule;
use crate::version::Version;

/// Body of `POST /api/v1/agents`. Absent optional fields default to empty (`listed` to
/// `true`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// Display name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// [`AgentType`] wire form.
    pub agent_type: String,
    /// Semantic version.
    pub version: String,
    /// `resource:action` strings.
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// Responsible person or team.
    pub owner: String,
    /// [`DeploymentEnv`] wire form.
    pub deployment_env: String,
    /// Labels.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Shown in the marketplace.
    #[serde(default)]
    pub listed: Option<bool>,
}

/// Body of `PATCH /api/v1/agents/{id}`: any non-empty subset of the writable fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// New display name.
    pub name: Option<String>,
    /// New free text.
    pub description: Option<String>,
    /// New [`AgentType`] wire form.
    pub agent_type: Option<String>,
    /// New semantic version.
    pub version: Option<String>,
    /// New `resource:action` strings (replacing the old ones).
    pub capabilities: Option<Vec<String>>,
    /// New owner.
    pub owner: Option<String>,
    /// New [`DeploymentEnv`] wire form.
    pub deployment_env: Option<String>,
    /// New labels (replacing the old ones).
    pub tags: Option<Vec<String>>,
    /// New marketplace visibility.
    pub listed: Option<bool>,
}

/// Problems found so far; one method per field, so registration and patches check each
/// field by the same rule.
#[derive(Debug, Default)]
struct Problems(FieldProblems);

impl Problems {
    fn take<T, E: Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        r.map_err(|e| self.0.push((field.to_owned(), e.to_string())))
            .ok()
    }

    fn list<T>(&mut self, r: Result<Vec<T>, FieldProblems>) -> Option<Vec<T>> {
        r.map_err(|e| self.0.extend(e)).ok()
    }

    fn name(&mut self, v: &str) -> Option<String> {
        self.take("name", TextRule::NAME.check(v))
    }

    fn description(&mut self, v: &str) -> Option<String> {
        self.take("description", TextRule::DESCRIPTION.check(v))
    }

    fn agent_type(&mut self, v: &str) -> Option<AgentType> {
        self.take("agent_type", v.parse())
    }

    fn version(&mut self, v: &str) -> Option<Version> {
        self.take("version", Version::parse(v))
    }

    fn capabilities(&mut self, v: &[String]) -> Option<Vec<Capability>> {
        self.list(Capability::parse_list(v))
    }

    fn owner(&mut self, v: &str) -> Option<String> {
        self.take("owner", TextRule::OWNER.check(v))
    }

    fn deployment_env(&mut self, v: &str) -> Option<DeploymentEnv> {
        self.take("deployment_env", v.parse())
    }

    fn tags(&mut self, v: &[String]) -> Option<Vec<Tag>> {
        self.list(Tag::parse_list(v))
    }
}

impl NewAgent {
    /// The agent's fields, or every problem with them.
    pub fn validate(self) -> Result<AgentFields, FieldProblems> {
        let mut p = Problems::default();
        let checked = (
            p.name(&self.name),
            p.description(self.description.as_deref().unwrap_or("")),
            p.agent_type(&self.agent_type),
            p.version(&self.version),
            p.capabilities(self.capabilities.as_deref().unwrap_or(&[])),
            p.owner(&self.owner),
            p.deployment_env(&self.deployment_env),
            p.tags(self.tags.as_deref().unwrap_or(&[])),
        );
        match checked {
            (
                Some(name),
                Some(description),
                Some(agent_type),
                Some(version),
                Some(capabilities),
                Some(owner),
                Some(deployment_env),
                Some(tags),
            ) if p.0.is_empty() => Ok(AgentFields {
                name,
                description,
                agent_type,
                version,
                capabilities,
                owner,
                deployment_env,
                tags,
                listed: self.listed.unwrap_or(true),
            }),
            _ => Err(p.0),
        }
    }
}

/// `*slot = v` when the patch sets the field and the value passed its rule.
fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

impl AgentPatch {
    /// Names of the fields the patch sets, in [`AgentFields::NAMES`] order.
    pub fn changed(&self) -> Vec<&'static str> {
        let present = [
            self.name.is_some(),
            self.description.is_some(),
            self.agent_type.is_some(),
            self.version.is_some(),
            self.capabilities.is_some(),
            self.owner.is_some(),
            self.deployment_env.is_some(),
            self.tags.is_some(),
            self.listed.is_some(),
        ];
        AgentFields::NAMES
            .into_iter()
            .zip(present)
            .filter_map(|(name, set)| set.then_some(name))
            .collect()
    }

    /// `current` with the patch applied, and the names of the fields it sets; or every
    /// problem with the fields it sets (`("body", "set at least one field")` last when it
    /// sets none).
    pub fn apply(
        self,
        current: &AgentFields,
    ) -> Result<(AgentFields, Vec<&'static str>), FieldProblems> {
        let changed = self.changed();
        let mut p = Problems::default();
        let mut f = current.clone();
        let AgentPatch {
            name,
            description,
            agent_type,
            version,
            capabilities,
            owner,
            deployment_env,
            tags,
            listed,
        } = self;
        set(&mut f.name, name.and_then(|v| p.name(&v)));
        set(
            &mut f.description,
            description.and_then(|v| p.description(&v)),
        );
        set(&mut f.agent_type, agent_type.and_then(|v| p.agent_type(&v)));
        set(&mut f.version, version.and_then(|v| p.version(&v)));
        set(
            &mut f.capabilities,
            capabilities.and_then(|v| p.capabilities(&v)),
        );
        set(&mut f.owner, owner.and_then(|v| p.owner(&v)));
        set(
            &mut f.deployment_env,
            deployment_env.and_then(|v| p.deployment_env(&v)),
        );
        set(&mut f.tags, tags.and_then(|v| p.tags(&v)));
        set(&mut f.listed, listed);
        if changed.is_empty() {
            p.0.push(("body".to_owned(), "set at least one field".to_owned()));
        }
        if p.0.is_empty() {
            Ok((f, changed))
        } else {
            Err(p.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| (*s).to_owned()).collect())
    }

    fn new_agent() -> NewAgent {
        NewAgent {
            name: " Invoice reader ".into(),
            description: None,
            agent_type: "extractor".into(),
            version: "1.4.0".into(),
            capabilities: strings(&["invoices:read", "invoices:read"]),
            owner: "finance".into(),
            deployment_env: "production".into(),
            tags: strings(&["PDF", "ocr"]),
            listed: None,
        }
    }

    fn problems(pairs: &[(&str, &str)]) -> FieldProblems {
        pairs
            .iter()
            .map(|(f, m)| ((*f).to_owned(), (*m).to_owned()))
            .collect()
    }

    const TAG: &str = "must be 1 to 64 of a-z, 0-9, - _ .";
    const CAPABILITY: &str =
        "must be resource:action in lowercase letters, digits and _.- (e.g. documents:read)";

    #[test]
    fn registration_normalizes_and_defaults() {
        let f = new_agent().validate().unwrap();
        assert_eq!(f.name, "Invoice reader");
        assert_eq!(f.description, "");
        assert_eq!(f.agent_type, AgentType::Extractor);
        assert_eq!(f.version, "1.4.0");
        assert_eq!(f.capabilities, ["invoices:read"]);
        assert_eq!(f.deployment_env, DeploymentEnv::Production);
        assert_eq!(f.tags, ["pdf", "ocr"]);
        assert!(f.listed);
        let f = NewAgent {
            capabilities: None,
            tags: None,
            listed: Some(false),
            ..new_agent()
        }
        .validate()
        .unwrap();
        assert!(f.capabilities.is_empty() && f.tags.is_empty() && !f.listed);
    }

    #[test]
    fn registration_reports_every_problem_in_field_order() {
        let e = NewAgent {
            name: " ".into(),
            description: Some("bell\u{7}".into()),
            agent_type: "robot".into(),
            version: "1.0".into(),
            capabilities: strings(&["a:read", "internal", "Docs:read"]),
            owner: "o".repeat(257),
            deployment_env: " staging".into(),
            tags: strings(&["ok", "not ok"]),
            listed: None,
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e,
            problems(&[
                ("name", "must not be empty"),
                ("description", "must not contain control characters"),
                (
                    "agent_type",
                    "must be one of: screener, classifier, orchestrator, extractor, \
                     summarizer, router, monitor, custom"
                ),
                (
                    "version",
                    "must be a semantic version such as 1.4.0 or 2.0.0-rc.1"
                ),
                ("capabilities[1]", CAPABILITY),
                ("capabilities[2]", CAPABILITY),
                ("owner", "must be at most 256 characters"),
                (
                    "deployment_env",
                    "must be one of: development, staging, production"
                ),
                ("tags[1]", TAG),
            ])
        );
    }

    #[test]
    fn list_limits_come_before_their_items() {
        let caps: Vec<String> = (0..65).map(|i| format!("r{i}:read")).collect();
        let mut tags: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        tags[3] = "BAD TAG".into();
        let e = NewAgent {
            capabilities: Some(caps),
            tags: Some(tags),
            ..new_agent()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e,
            problems(&[
                ("capabilities", "at most 64 capabilities"),
                ("tags", "at most 32 tags"),
                ("tags[3]", TAG),
            ])
        );
    }

    #[test]
    fn bodies_are_strict_json() {
        let body = serde_json::json!({
            "name": "n", "agent_type": "router", "version": "1.0.0",
            "owner": "o", "deployment_env": "staging"
        });
        let n: NewAgent = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(n.description, None);
        let mut extra = body;
        extra["status"] = "active".into();
        assert!(serde_json::from_value::<NewAgent>(extra).is_err());
        assert!(serde_json::from_str::<AgentPatch>(r#"{"colour":"red"}"#).is_err());
        let p: AgentPatch = serde_json::from_str(r#"{"tags":["a"],"listed":false}"#).unwrap();
        assert_eq!(p.changed(), ["tags", "listed"]);
    }

    #[test]
    fn patches_change_only_what_they_set() {
        let current = new_agent().validate().unwrap();
        let (f, changed) = AgentPatch {
            version: Some(" 2.0.0-rc.1 ".into()),
            tags: Some(vec![]),
            listed: Some(false),
            ..AgentPatch::default()
        }
        .apply(&current)
        .unwrap();
        assert_eq!(changed, ["version", "tags", "listed"]);
        assert_eq!(f.version, "2.0.0-rc.1");
        assert!(f.tags.is_empty() && !f.listed);
        assert_eq!(f.name, current.name);
        assert_eq!(f.capabilities, current.capabilities);

        let (same, changed) = AgentPatch {
            name: Some("Invoice reader".into()),
            ..AgentPatch::default()
        }
        .apply(&current)
        .unwrap();
        assert_eq!((same, changed), (current, vec!["name"]));
    }

    #[test]
    fn patches_report_every_problem_and_empty_patches() {
        let current = new_agent().validate().unwrap();
        let e = AgentPatch {
            name: Some("x".repeat(129)),
            description: Some("d".repeat(2001)),
            capabilities: Some(vec!["nope".into()]),
            owner: Some(String::new()),
            tags: Some(vec!["".into()]),
            ..AgentPatch::default()
        }
        .apply(&current)
        .unwrap_err();
        assert_eq!(
            e,
            problems(&[
                ("name", "must be at most 128 characters"),
                ("description", "must be at most 2000 characters"),
                ("capabilities[0]", CAPABILITY),
                ("owner", "must not be empty"),
                ("tags[0]", TAG),
            ])
        );
        assert_eq!(
            AgentPatch::default().apply(&current).unwrap_err(),
            problems(&[("body", "set at least one field")])
        );
        let desc = AgentPatch {
            description: Some("  ".into()),
            ..AgentPatch::default()
        };
        assert_eq!(desc.apply(&current).unwrap().0.description, "");
    }
}
