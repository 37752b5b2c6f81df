//! Rotating `KEY_ENCRYPTION_KEY` with every secret given as a file (`<NAME>_FILE`, as a
//! Kubernetes Secret volume provides them): `identity rotate-kek` re-seals every stored key
//! and webhook secret while the running instance keeps signing tokens and delivering
//! webhooks, first with `KEY_ENCRYPTION_KEY_PREVIOUS` beside the new key, then without it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use platform::config::Env;
use serde_json::{Value, json};
use testkit::identity::agent_body;
use testkit::receiver::{Received, Receiver};
use testkit::{TestEnv, eventually};

use crate::helpers::{Identity, spawn_env, world};

/// testkit's key (what the deployment starts with) and the new one.
const OLD_KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const NEW_KEK: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
const PEPPER: &str = "test-pepper-0123456789abcdef0123456789";

/// A directory of secret files, as a Secret volume mounts them (values end with a newline).
struct SecretDir(PathBuf);

impl SecretDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("agentidp-kek-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, value: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for SecretDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test's environment with the key and pepper only as files (`kek` now, `previous`
/// during the rotation).
fn file_env(env: &TestEnv, dir: &SecretDir, kek: &str, previous: Option<&str>) -> Env {
    let mut e = env.env_with(&[
        ("KEY_ENCRYPTION_KEY", ""),
        ("CREDENTIAL_PEPPER", ""),
        ("BILLING_ENABLED", "false"),
        ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("WEBHOOK_POLL_INTERVAL_MS", "20"),
        ("KEY_REFRESH_INTERVAL_MS", "50"),
    ]);
    e.set("KEY_ENCRYPTION_KEY_FILE", dir.file("kek", kek));
    e.set("CREDENTIAL_PEPPER_FILE", dir.file("pepper", PEPPER));
    if let Some(p) = previous {
        e.set(
            "KEY_ENCRYPTION_KEY_PREVIOUS_FILE",
            dir.file("kek-previous", p),
        );
    }
    e
}

fn signature_holds(secret: &str, r: &Received) -> bool {
    let Some(header) = r.headers.get("x-agentidp-signature") else {
        return false;
    };
    let field = |name: &str| {
        header
            .split(',')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
    };
    let (Some(t), Some(v1)) = (field("t"), field("v1")) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let signed = [t.as_bytes(), b".", &r.body].concat();
    let expected = hex::encode(hmac::sign(&key, &signed).as_ref());
    constant_time::verify_slices_are_equal(expected.as_bytes(), v1.as_bytes()).is_ok()
}

/// Waits for `n` deliveries; each must carry a valid signature under `secret`.
async fn delivered(rx: &Receiver, n: usize, secret: &str) {
    let got = eventually(Duration::from_secs(15), || async {
        let got = rx.received();
        (got.len() >= n).then_some(got)
    })
    .await
    .unwrap_or_else(|| panic!("expected {n} deliveries, got {}", rx.received().len()));
    for r in &got {
        assert!(signature_holds(secret, r), "{:?}", r.headers);
    }
}

/// Issues a token and checks that the JWKS publishes its key.
async fn signs(id: &Identity, client_id: &str, secret: &str) {
    let token = id.api.token(client_id, secret).await.unwrap();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"].clone();
    let jwks = id.app.client.get("/.well-known/jwks.json").await.unwrap();
    let keys = jwks.json()["keys"].as_array().unwrap().clone();
    assert!(
        keys.iter().any(|k| k["kid"] == kid),
        "{kid} not in {keys:?}"
    );
}

#[tokio::test]
async fn rotate_kek_reseals_everything_while_the_service_signs_and_delivers() {
    let env = TestEnv::new().await.unwrap();
    let dir = SecretDir::new();

    // Before: a signing key, DID keys and a webhook secret sealed with the old key.
    let id = spawn_env(file_env(&env, &dir, OLD_KEK, None)).await;
    let w = world(&id, "KEK Rotation").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = id
        .app
        .client
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": rx.url(), "event_types": ["agent.created"]}),
        )
        .await
        .unwrap();
    assert_eq!(hook.status, 201, "{}", hook.body);
    let secret = hook.json()["secret"].as_str().unwrap().to_owned();
    id.app.stop().await.unwrap();

    // During: the new key seals, the previous one still opens. `identity rotate-kek` runs
    // as its own process while this instance keeps signing tokens and delivering webhooks.
    let rotating = file_env(&env, &dir, NEW_KEK, Some(OLD_KEK));
    let id = spawn_env(rotating.clone()).await;
    let mut reseal = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .arg("rotate-kek")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(rotating.iter())
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut during = 0;
    let mut agents = 0;
    loop {
        signs(&id, &w.cred.client_id, &w.cred.client_secret).await;
        during += 1;
        if agents < 5 {
            id.api
                .create_agent(
                    &w.admin,
                    &agent_body(&format!("during {agents}"), json!({})),
                )
                .await
                .unwrap();
            agents += 1;
        }
        if reseal.try_wait().unwrap().is_some() {
            break;
        }
    }
    let out = reseal.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(
        report["resealed"]["signing_keys"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["resealed"]["agent_keys"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert_eq!(report["resealed"]["webhooks"], 1, "{report}");
    assert!(during >= 1);
    // Signing goes on after the re-seal, and the webhook secret re-sealed under the new key
    // still signs every delivery (those queued during the re-seal included).
    signs(&id, &w.cred.client_id, &w.cred.client_secret).await;
    delivered(&rx, agents, &secret).await;
    id.app.stop().await.unwrap();

    // After: the new key alone opens everything; nothing is left to re-seal.
    let id = spawn_env(file_env(&env, &dir, NEW_KEK, None)).await;
    let config = identity::Config::from_env(&file_env(&env, &dir, NEW_KEK, None)).unwrap();
    let again = identity::reseal_secrets(&config).await.unwrap();
    assert!(again.resealed.values().all(|n| *n == 0), "{again:?}");
    signs(&id, &w.cred.client_id, &w.cred.client_secret).await;
    id.api
        .create_agent(&w.admin, &agent_body("after", json!({})))
        .await
        .unwrap();
    delivered(&rx, agents + 1, &secret).await;
}

#[test]
fn previous_and_secondary_together_are_refused() {
    let env = Env::from_pairs([
        ("KEY_ENCRYPTION_KEY", NEW_KEK),
        ("KEY_ENCRYPTION_KEY_SECONDARY", OLD_KEK),
        ("KEY_ENCRYPTION_KEY_PREVIOUS", OLD_KEK),
        ("CREDENTIAL_PEPPER", PEPPER),
    ]);
    let errs = identity::Config::from_env(&env).unwrap_err();
    let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
    assert_eq!(vars, ["KEY_ENCRYPTION_KEY_PREVIOUS"]);
    let previous = Env::from_pairs([
        ("KEY_ENCRYPTION_KEY", NEW_KEK),
        ("KEY_ENCRYPTION_KEY_PREVIOUS", OLD_KEK),
        ("CREDENTIAL_PEPPER", PEPPER),
    ]);
    let cfg = identity::Config::from_env(&previous).unwrap();
    assert!(cfg.key_encryption_key_secondary.is_some());
}
