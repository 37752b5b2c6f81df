//! The GitHub Actions' shell steps (`actions/*/…sh`) against a running identity, with the
//! fake GitHub OIDC issuer standing in for the runner's token request endpoint.

use std::path::{Path, PathBuf};

use serde_json::json;
use testkit::TestEnv;
use testkit::oidc::{FakeIssuer, REQUEST_TOKEN, github_claims};

use crate::federation::{github_policy, spawn_federated};
use crate::helpers::{claims_of, count, world};

fn script(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../actions")
        .join(rel)
}

/// Runs `script` with the runner's environment; returns (success, stdout+stderr, outputs).
async fn run(script: &Path, gh: &FakeIssuer, vars: &[(&str, &str)]) -> (bool, String, String) {
    let dir = std::env::temp_dir().join(format!("agentidp-actions-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let outputs = dir.join("outputs");
    std::fs::write(&outputs, "").unwrap();
    let out = tokio::process::Command::new("bash")
        .arg(script)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", gh.request_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        .env("GITHUB_OUTPUT", &outputs)
        .envs(vars.iter().copied())
        .output()
        .await
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&outputs).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (out.status.success(), log, written)
}

fn output<'a>(outputs: &'a str, name: &str) -> &'a str {
    outputs
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
}

#[tokio::test]
async fn issue_token_and_register_agent_work_against_the_stack() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Actions").await;
    let gh = FakeIssuer::start().await.unwrap();
    gh.set_actions_claims(github_claims(
        gh.issuer(),
        "",
        "octo-org/octo-repo",
        "refs/heads/main",
    ));
    let policy = github_policy(
        &id,
        &w,
        gh.issuer(),
        json!({"repository": "octo-org/octo-repo"}),
    )
    .await;
    let audience = policy["audience"].as_str().unwrap().to_owned();
    let url = id.app.base_url.clone();

    let issue = script("issue-token/issue-token.sh");
    let vars = [
        ("AGENTIDP_URL", url.as_str()),
        ("AGENTIDP_AUDIENCE", audience.as_str()),
    ];
    let (ok, log, outputs) = run(&issue, &gh, &vars).await;
    assert!(ok, "{log}");
    let token = output(&outputs, "access-token");
    assert_eq!(claims_of(token)["sub"], w.agent_id());
    assert!(log.contains(&format!("::add-mask::{token}")), "{log}");
    assert!(
        !log.replace(&format!("::add-mask::{token}"), "")
            .contains(token),
        "token leaked: {log}"
    );
    let expires_at = output(&outputs, "expires-at");
    assert!(
        time::OffsetDateTime::parse(expires_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "{expires_at}"
    );

    // A wrong audience: no policy accepts the token; the step fails with the OAuth error.
    let wrong = [
        ("AGENTIDP_URL", url.as_str()),
        ("AGENTIDP_AUDIENCE", "https://elsewhere.example"),
    ];
    let (ok, log, outputs) = run(&issue, &gh, &wrong).await;
    assert!(!ok);
    assert!(
        log.contains("::error::the token exchange was refused (400) invalid_grant"),
        "{log}"
    );
    assert!(outputs.is_empty());

    // register-agent: the policy's agent needs agents:write to register agents, and the
    // capabilities it gives them (platform scopes would need admin:tenant).
    let writer = id
        .api
        .create_agent(
            &w.admin,
            &testkit::identity::agent_body(
                "CI registrar",
                json!({"capabilities": ["agents:read", "agents:write", "documents:read"]}),
            ),
        )
        .await
        .unwrap();
    let p = id
        .api
        .http
        .post_json(
            "/api/v1/federation/trust-policies",
            Some(&w.admin),
            &json!({"name": "registrar", "provider": "github_actions", "issuer": gh.issuer(), "audience": "registrar-aud", "agent_id": writer["id"], "scopes": ["agents:write", "documents:read"], "conditions": {"repository": "octo-org/octo-repo"}}),
        )
        .await
        .unwrap();
    assert_eq!(p.status, 201, "{}", p.body);
    let manifest = std::env::temp_dir().join(format!("agent-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &manifest,
        testkit::identity::agent_body("Built by CI", json!({"capabilities": ["documents:read"]}))
            .to_string(),
    )
    .unwrap();
    let manifest_path = manifest.to_string_lossy().into_owned();
    let register = script("register-agent/register-agent.sh");
    let vars = [
        ("AGENTIDP_URL", url.as_str()),
        ("AGENTIDP_AUDIENCE", "registrar-aud"),
        ("AGENTIDP_MANIFEST", manifest_path.as_str()),
    ];
    let (ok, log, outputs) = run(&register, &gh, &vars).await;
    assert!(ok, "{log}");
    let created = output(&outputs, "agent-id").to_owned();
    assert_eq!(
        count(
            &env,
            &format!("identity.agents WHERE id = '{created}' AND name = 'Built by CI'")
        )
        .await,
        1
    );
    // Again with its id: an update.
    std::fs::write(
        &manifest,
        json!({"description": "Rebuilt by CI"}).to_string(),
    )
    .unwrap();
    let vars = [
        ("AGENTIDP_URL", url.as_str()),
        ("AGENTIDP_AUDIENCE", "registrar-aud"),
        ("AGENTIDP_MANIFEST", manifest_path.as_str()),
        ("AGENTIDP_TARGET_AGENT_ID", created.as_str()),
    ];
    let (ok, log, outputs) = run(&register, &gh, &vars).await;
    std::fs::remove_file(&manifest).ok();
    assert!(ok, "{log}");
    assert_eq!(output(&outputs, "agent-id"), created);
    assert_eq!(
        count(
            &env,
            &format!("identity.agents WHERE id = '{created}' AND description = 'Rebuilt by CI'")
        )
        .await,
        1
    );
}
