//! Sets up the token method benchmark (`load-tests/token-methods.sh`) against a running
//! identity: a tenant with an agent, a secret credential (the baseline), a private_key_jwt
//! credential, a fake GitHub OIDC issuer with a trust policy, and single-use requests for
//! each method (every assertion, external token and DPoP proof can be used once).
//!
//!   token_bench BASE N OUT_DIR
//!
//! Writes into OUT_DIR: `creds.lua` (the secret credential's Authorization header), and
//! `private_key_jwt.txt`, `exchange.txt`, `dpop.txt` (N requests each, one per line: body,
//! Authorization, DPoP, tab-separated),
//! then `ready`, and serves the issuer until its standard input closes. DPoP proofs are
//! made last and dated 50 s ahead, so they stay fresh for about two minutes.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark tool reports on standard output"
)]

use std::io::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;
use testkit::identity::{IdentityClient, agent_body};
use testkit::jws::{EcKey, now};
use testkit::oidc::{FakeIssuer, github_claims};

const REPO: &str = "bench-org/bench-repo";

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One request as a line: body, Authorization and DPoP headers (`-` for none), tab-separated.
fn entry(body: &str, auth: Option<&str>, dpop: Option<&str>) -> String {
    format!("{body}\t{}\t{}\n", auth.unwrap_or("-"), dpop.unwrap_or("-"))
}

fn write(path: std::path::PathBuf, entries: &[String]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in entries {
        f.write_all(e.as_bytes())?;
    }
    Ok(f.flush()?)
}

/// `count` items made by `make` on both cores.
async fn minted(
    count: usize,
    make: Arc<dyn Fn() -> String + Send + Sync>,
) -> anyhow::Result<Vec<String>> {
    let halves: Vec<_> = (0..2)
        .map(|k| {
            let make = make.clone();
            tokio::task::spawn_blocking(move || {
                (0..count)
                    .filter(|i| i % 2 == k)
                    .map(|_| make())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut out = Vec::with_capacity(count);
    for h in halves {
        out.extend(h.await?);
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, n, out] = args.as_slice() else {
        anyhow::bail!("usage: token_bench BASE N OUT_DIR");
    };
    let n: usize = n.parse()?;
    let out = std::path::PathBuf::from(out);
    let base = base.trim_end_matches('/').to_owned();
    let token_url = format!("{base}/oauth2/token");
    let gh = Arc::new(FakeIssuer::start().await?);
    let api = IdentityClient::new(&base);
    let tenant = api
        .signup(&format!("Token bench {}", uuid::Uuid::new_v4().simple()))
        .await?;
    let admin = api.admin_token(&tenant).await?;
    let agent = api
        .create_agent(&admin, &agent_body("bench agent", json!({})))
        .await?;
    let agent_id = agent["id"].as_str().unwrap_or_default().to_owned();
    let cred = api.create_credential(&admin, &agent_id, &json!({})).await?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", cred.client_id, cred.client_secret))
    );
    std::fs::write(
        out.join("creds.lua"),
        format!("return {{\n  \"{basic}\",\n}}\n"),
    )?;

    let key = Arc::new(EcKey::generate("bench"));
    let res = api
        .http
        .post_json(
            &format!("/api/v1/agents/{agent_id}/credentials"),
            Some(&admin),
            &json!({"type": "private_key_jwt", "jwks": key.jwks()}),
        )
        .await?;
    anyhow::ensure!(
        res.status == 201,
        "key credential: {} {}",
        res.status,
        res.body
    );
    let key_client = res.json()["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
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

    let started = std::time::Instant::now();
    let (k, c, u) = (key.clone(), key_client.clone(), token_url.clone());
    let assertions = minted(
        n,
        Arc::new(move || {
            let a = k.assertion(&c, &u, 600);
            entry(
                &form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &a),
                ]),
                None,
                None,
            )
        }),
    )
    .await?;
    write(out.join("private_key_jwt.txt"), &assertions)?;
    let (g, a) = (gh.clone(), aud.clone());
    let externals = minted(
        n,
        Arc::new(move || {
            let t = g.sign(&github_claims(g.issuer(), &a, REPO, "refs/heads/main"));
            entry(
                &form(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ),
                    ("subject_token", &t),
                    (
                        "subject_token_type",
                        "urn:ietf:params:oauth:token-type:id_token",
                    ),
                ]),
                None,
                None,
            )
        }),
    )
    .await?;
    write(out.join("exchange.txt"), &externals)?;
    let (k, u, b) = (key.clone(), token_url.clone(), basic.clone());
    let ahead = now() + 50;
    let proofs = minted(
        n,
        Arc::new(move || {
            let p = k.dpop_at("POST", &u, None, ahead);
            entry("grant_type=client_credentials", Some(&b), Some(&p))
        }),
    )
    .await?;
    write(out.join("dpop.txt"), &proofs)?;
    println!(
        "minted {n} requests per method in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::fs::write(out.join("ready"), "")?;
    let mut sink = String::new();
    let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut sink)).await;
    Ok(())
}
