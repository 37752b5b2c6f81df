//! Sets up a federated token exchange benchmark against a running identity: a fake GitHub
//! OIDC issuer, a tenant with an agent, a credential (for the client_credentials baseline)
//! and a trust policy, and `N` distinct external tokens (each can be exchanged once).
//!
//!   federation_bench BASE N OUT_DIR
//!
//! Writes `OUT_DIR/creds.lua` (the credential's Authorization header) and
//! `OUT_DIR/exchange.lua` (form bodies of the exchanges), then `OUT_DIR/ready`, and serves
//! the issuer's discovery and keys until its standard input closes.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark tool reports on standard output"
)]

use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use testkit::identity::{IdentityClient, agent_body};
use testkit::oidc::{FakeIssuer, github_claims};

const REPO: &str = "bench-org/bench-repo";

fn form(token: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        )
        .append_pair("subject_token", token)
        .append_pair(
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        )
        .finish()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, n, out] = args.as_slice() else {
        anyhow::bail!("usage: federation_bench BASE N OUT_DIR");
    };
    let n: usize = n.parse()?;
    let out = std::path::PathBuf::from(out);
    let gh = Arc::new(FakeIssuer::start().await?);
    let api = IdentityClient::new(base);
    let tenant = api
        .signup(&format!(
            "Federation bench {}",
            uuid::Uuid::new_v4().simple()
        ))
        .await?;
    let admin = api.admin_token(&tenant).await?;
    let agent = api
        .create_agent(&admin, &agent_body("bench agent", json!({})))
        .await?;
    let agent_id = agent["id"].as_str().unwrap_or_default().to_owned();
    let cred = api.create_credential(&admin, &agent_id, &json!({})).await?;
    let policy = api
        .http
        .post_json(
            "/api/v1/federation/trust-policies",
            Some(&admin),
            &json!({"name": "bench", "provider": "github_actions", "issuer": gh.issuer(),
                    "agent_id": agent_id, "scopes": ["documents:read"],
                    "conditions": {"repository": REPO, "ref": "refs/heads/main"}}),
        )
        .await?;
    anyhow::ensure!(
        policy.status == 201,
        "policy: {} {}",
        policy.status,
        policy.body
    );
    let aud = policy.json()["audience"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", cred.client_id, cred.client_secret));
    std::fs::write(
        out.join("creds.lua"),
        format!("return {{\n  \"Basic {basic}\",\n}}\n"),
    )?;

    // RSA signing is the slow part: both cores mint.
    let started = std::time::Instant::now();
    let halves: Vec<_> = (0..2)
        .map(|k| {
            let (gh, aud) = (gh.clone(), aud.clone());
            tokio::task::spawn_blocking(move || {
                (0..n)
                    .filter(|i| i % 2 == k)
                    .map(|_| {
                        form(&gh.sign(&github_claims(gh.issuer(), &aud, REPO, "refs/heads/main")))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("exchange.lua"))?);
    writeln!(f, "return {{")?;
    for half in halves {
        for body in half.await? {
            writeln!(f, "  \"{body}\",")?;
        }
    }
    writeln!(f, "}}")?;
    f.flush()?;
    println!(
        "minted {n} external tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(out.join("ready"), "")?;
    // Serve the issuer until told to stop.
    let mut sink = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut sink)).await;
    Ok(())
}
