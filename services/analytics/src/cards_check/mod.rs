//! `analytics check-cards`: the partner interoperability check. It fetches a deployment's
//! agent cards (`GET <url>/api/v1/compliance/agent-cards` with a `compliance:read` token)
//! and validates every A2A AgentCard and OASF record against the schemas pinned in
//! `services/analytics/schemas/` (the A2A one is derived from the pinned a2a-sdk's protobuf
//! descriptors by `tests/interop/a2a_schema.py`). Any invalid card makes the command exit 1.

pub mod schema;

use std::sync::LazyLock;

use domain::cards::{A2A_PROTOCOL_VERSION, OASF_SCHEMA_VERSION};
use reqwest::Url;
use serde_json::Value;

use self::schema::Violation;

/// The pinned A2A AgentCard v1.0 schema.
pub const A2A_SCHEMA_JSON: &str = include_str!("../../schemas/a2a-agent-card-1.0.schema.json");
/// The pinned OASF record 0.8.0 schema.
pub const OASF_SCHEMA_JSON: &str = include_str!("../../schemas/oasf-record-0.8.0.schema.json");

fn parse_schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

static A2A_SCHEMA: LazyLock<Value> = LazyLock::new(|| parse_schema(A2A_SCHEMA_JSON));
static OASF_SCHEMA: LazyLock<Value> = LazyLock::new(|| parse_schema(OASF_SCHEMA_JSON));

/// The problems of one A2A AgentCard (empty: valid).
pub fn check_a2a_card(card: &Value) -> Vec<Violation> {
    let mut out = schema::validate(&A2A_SCHEMA, card);
    for (i, iface) in card["supportedInterfaces"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if iface["protocolVersion"] != A2A_PROTOCOL_VERSION {
            out.push(Violation {
                path: format!("/supportedInterfaces/{i}/protocolVersion"),
                message: format!("must be {A2A_PROTOCOL_VERSION}"),
            });
        }
    }
    out
}

/// The problems of one OASF record (empty: valid).
pub fn check_oasf_record(record: &Value) -> Vec<Violation> {
    schema::validate(&OASF_SCHEMA, record)
}

/// The verdict on one agent's cards.
#[derive(Debug, Clone)]
pub struct CardResult {
    /// The agent (`?` when the entry has none).
    pub agent_id: String,
    /// Problems, each prefixed with the document it is in.
    pub problems: Vec<String>,
}

/// The verdict on a deployment.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One per agent entry.
    pub cards: Vec<CardResult>,
    /// Problems of the export itself (shape, pinned versions).
    pub problems: Vec<String>,
}

impl Outcome {
    /// Whether everything is valid.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.cards.iter().all(|c| c.problems.is_empty())
    }

    /// How many agent entries are invalid.
    pub fn invalid(&self) -> usize {
        self.cards.iter().filter(|c| !c.problems.is_empty()).count()
    }
}

/// Checks an agent-cards export (the body of `GET /api/v1/compliance/agent-cards`).
pub fn check_export(doc: &Value) -> Outcome {
    let mut outcome = Outcome::default();
    let pinned = &doc["schemas"];
    if pinned["a2a_protocol_version"] != A2A_PROTOCOL_VERSION {
        outcome.problems.push(format!(
            "schemas.a2a_protocol_version is {}, this check pins {A2A_PROTOCOL_VERSION}",
            pinned["a2a_protocol_version"]
        ));
    }
    if pinned["oasf_schema_version"] != OASF_SCHEMA_VERSION {
        outcome.problems.push(format!(
            "schemas.oasf_schema_version is {}, this check pins {OASF_SCHEMA_VERSION}",
            pinned["oasf_schema_version"]
        ));
    }
    let Some(agents) = doc["agents"].as_array() else {
        outcome
            .problems
            .push("the export has no agents list".into());
        return outcome;
    };
    for entry in agents {
        let mut problems = Vec::new();
        problems.extend(
            check_a2a_card(&entry["a2a_agent_card"])
                .iter()
                .map(|v| format!("a2a_agent_card {v}")),
        );
        problems.extend(
            check_oasf_record(&entry["oasf_record"])
                .iter()
                .map(|v| format!("oasf_record {v}")),
        );
        outcome.cards.push(CardResult {
            agent_id: entry["agent_id"].as_str().unwrap_or("?").to_owned(),
            problems,
        });
    }
    outcome
}

/// How the check authenticates to the deployment.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A bearer token with `compliance:read`.
    Token(String),
    /// Client credentials exchanged at `<url>/oauth2/token` for such a token.
    Client {
        /// Client id.
        id: String,
        /// Client secret.
        secret: String,
    },
}

fn join(base: &Url, path: &str) -> anyhow::Result<Url> {
    Ok(Url::parse(&format!(
        "{}{path}",
        base.as_str().trim_end_matches('/')
    ))?)
}

/// Fetches the export of the deployment at `base` and checks it.
pub async fn run(base: &Url, auth: &Auth) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("agentidp-check-cards/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let token = match auth {
        Auth::Token(t) => t.clone(),
        Auth::Client { id, secret } => {
            let res = http
                .post(join(base, "/oauth2/token")?)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "compliance:read"),
                ])
                .send()
                .await?;
            anyhow::ensure!(
                res.status().is_success(),
                "token endpoint answered {}",
                res.status()
            );
            let body: Value = res.json().await?;
            body["access_token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("token response without access_token"))?
                .to_owned()
        }
    };
    let url = join(base, "/api/v1/compliance/agent-cards")?;
    let res = http.get(url.clone()).bearer_auth(token).send().await?;
    let status = res.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    let doc: Value = res.json().await?;
    Ok(check_export(&doc))
}
