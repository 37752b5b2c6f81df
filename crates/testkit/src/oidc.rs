//! A fake OpenID Connect issuer speaking GitHub Actions' wire format: discovery
//! (`/.well-known/openid-configuration`), a JWKS of RSA keys, RS256 ID tokens with GitHub's
//! claim set, and the runner's token request endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL`:
//! `GET /token?audience=…` with `Authorization: Bearer <request token>` answers
//! `{"value": <ID token>}`). Keys rotate on demand; the issuer counts key-set fetches.

#![expect(
    clippy::expect_used,
    reason = "a test fake: key generation and signing with a fresh key cannot fail, and the key list is never empty"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The runner's request token the fake's `/token` endpoint expects.
pub const REQUEST_TOKEN: &str = "fake-actions-request-token";

struct Key {
    kid: String,
    pair: KeyPair,
}

impl Key {
    fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        }
    }

    fn jwk(&self) -> Value {
        let p = self.pair.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": B64.encode(p.modulus().big_endian_without_leading_zero()),
            "e": B64.encode(p.exponent().big_endian_without_leading_zero()),
        })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing");
        format!("{input}.{}", B64.encode(sig))
    }
}

struct State {
    /// Published keys; the last one signs.
    keys: Vec<Arc<Key>>,
    /// Claims the `/token` endpoint puts in its tokens (besides `aud`, times and `jti`).
    actions_claims: Value,
}

/// A running fake issuer; stops when dropped.
pub struct FakeIssuer {
    base: String,
    state: Arc<Mutex<State>>,
    jwks_fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeIssuer")
            .field("base", &self.base)
            .finish()
    }
}

impl Drop for FakeIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl FakeIssuer {
    /// Starts an issuer on 127.0.0.1 with one key (`key-1`).
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let state = Arc::new(Mutex::new(State {
            keys: vec![Arc::new(Key::generate("key-1"))],
            actions_claims: json!({}),
        }));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let (s, hits, b) = (state.clone(), jwks_fetches.clone(), base.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (s, hits, b) = (s.clone(), hits.clone(), b.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&seen).into_owned();
                    let (status, body) = answer(&head, &s, &hits, &b);
                    let res = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(res.as_bytes()).await;
                });
            }
        });
        Ok(Self {
            base,
            state,
            jwks_fetches,
            task,
        })
    }

    /// The issuer (`iss`), `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// The runner's token request URL (`ACTIONS_ID_TOKEN_REQUEST_URL`).
    pub fn request_url(&self) -> String {
        format!("{}/token?api-version=2.0", self.base)
    }

    /// How many times the key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes a new key, which signs from now on; returns its `kid`. Old keys stay
    /// published until [`FakeIssuer::retire`].
    pub fn rotate(&self) -> String {
        let mut s = self.lock();
        let kid = format!("key-{}", s.keys.len() + 1);
        s.keys.push(Arc::new(Key::generate(&kid)));
        kid
    }

    /// Stops publishing every key but the signing one.
    pub fn retire(&self) {
        let mut s = self.lock();
        let last = s.keys.pop();
        s.keys.clear();
        s.keys.extend(last);
    }

    /// Sets the claims `/token` issues (GitHub's claim set, see [`github_claims`]).
    pub fn set_actions_claims(&self, claims: Value) {
        self.lock().actions_claims = claims;
    }

    fn current(&self) -> Arc<Key> {
        self.lock().keys.last().expect("a key").clone()
    }

    /// `claims` signed RS256 by the current key, with `kid` (signers run in parallel).
    pub fn sign(&self, claims: &Value) -> String {
        let key = self.current();
        key.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}),
            claims,
        )
    }

    /// `claims` signed by the current key under `header` as given (any `alg`, `kid`).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.current().sign(header, claims)
    }

    /// `claims` signed by a key the issuer never published, under the current `kid`.
    pub fn sign_with_stray_key(&self, claims: &Value) -> String {
        let kid = self.current().kid.clone();
        Key::generate(&kid).sign(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), claims)
    }
}

/// GitHub Actions' claim set for a run of `repository` (`owner/name`) on `git_ref`, for
/// `aud`, issued now for 5 minutes; `environment` when deploying. Ids are derived from the
/// names so they are stable.
pub fn github_claims(issuer: &str, aud: &str, repository: &str, git_ref: &str) -> Value {
    let (owner, name) = repository.split_once('/').unwrap_or((repository, ""));
    let id = |s: &str| {
        (s.bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            % 1_000_000_000)
            .to_string()
    };
    let now = now();
    json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": format!("repo:{repository}:ref:{git_ref}"),
        "aud": aud,
        "ref": git_ref,
        "sha": "8c3a1b2f0d9e",
        "repository": repository,
        "repository_owner": owner,
        "repository_owner_id": id(owner),
        "repository_id": id(repository),
        "repository_visibility": "private",
        "run_id": "5123456789",
        "run_number": "42",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "workflow": "CI",
        "workflow_ref": format!("{repository}/.github/workflows/ci.yml@{git_ref}"),
        "workflow_sha": "8c3a1b2f0d9e",
        "job_workflow_ref": format!("{repository}/.github/workflows/ci.yml@{git_ref}"),
        "job_workflow_sha": "8c3a1b2f0d9e",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "head_ref": "",
        "base_ref": "",
        "iss": issuer,
        "nbf": now - 5,
        "iat": now - 5,
        "exp": now + 300,
        "name": name,
    })
}

fn answer(
    head: &str,
    state: &Mutex<State>,
    jwks_fetches: &AtomicUsize,
    base: &str,
) -> (u16, String) {
    let line = head.lines().next().unwrap_or_default();
    let target = line.split(' ').nth(1).unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let state = state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match path {
        "/.well-known/openid-configuration" => (
            200,
            json!({
                "issuer": base,
                "jwks_uri": format!("{base}/.well-known/jwks"),
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id", "repository_owner", "repository_owner_id", "environment", "workflow_ref", "job_workflow_ref", "event_name"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
            })
            .to_string(),
        ),
        "/.well-known/jwks" => {
            jwks_fetches.fetch_add(1, Ordering::SeqCst);
            let keys: Vec<Value> = state.keys.iter().map(|k| k.jwk()).collect();
            (200, json!({ "keys": keys }).to_string())
        }
        "/token" => {
            if headers.get("authorization").map(String::as_str)
                != Some(&format!("Bearer {REQUEST_TOKEN}"))
            {
                return (401, json!({"message": "bad request token"}).to_string());
            }
            let aud = form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == "audience")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| "https://github.com".to_owned());
            let now = now();
            let mut claims = state.actions_claims.clone();
            if let Some(o) = claims.as_object_mut() {
                o.insert("aud".into(), json!(aud));
                o.insert("iss".into(), json!(base));
                o.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
                o.insert("iat".into(), json!(now - 5));
                o.insert("nbf".into(), json!(now - 5));
                o.insert("exp".into(), json!(now + 300));
            }
            let key = state.keys.last().expect("a key");
            let token = key.sign(&json!({"alg": "RS256", "typ": "JWT", "kid": key.kid}), &claims);
            (200, json!({ "count": 2000, "value": token }).to_string())
        }
        _ => (404, json!({"message": "not found"}).to_string()),
    }
}
