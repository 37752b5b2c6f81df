//! Federation: external OIDC tokens (a fake GitHub Actions issuer speaking the real wire
//! format) exchanged for agent tokens through trust policies.

use serde_json::{Value, json};
use testkit::oidc::{FakeIssuer, github_claims, now};
use testkit::{TestEnv, TestResponse};

use crate::helpers::{Identity, World, claims_of, count, spawn, world};

pub const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const REPO: &str = "octo-org/octo-repo";
const MAIN: &str = "refs/heads/main";

/// Identity allowing issuers on loopback.
pub async fn spawn_federated(env: &TestEnv) -> Identity {
    spawn(env, &[("FEDERATION_ALLOWED_NETWORKS", "127.0.0.0/8")]).await
}

/// Creates a trust policy with the tenant-admin token of `w`; returns the answer.
pub async fn create_policy(id: &Identity, w: &World, body: &Value) -> TestResponse {
    id.api
        .http
        .post_json("/api/v1/federation/trust-policies", Some(&w.admin), body)
        .await
        .unwrap()
}

/// A GitHub Actions policy of `w`'s agent for `REPO` on `issuer`, with `conditions`.
pub async fn github_policy(id: &Identity, w: &World, issuer: &str, conditions: Value) -> Value {
    let res = create_policy(
        id,
        w,
        &json!({
            "name": "CI", "provider": "github_actions", "issuer": issuer,
            "agent_id": w.agent_id(), "scopes": ["agents:read"], "conditions": conditions,
        }),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()
}

/// Exchanges an external token at the token endpoint with `extra` fields.
pub async fn exchange(id: &Identity, token: &str, extra: &[(&str, &str)]) -> TestResponse {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", token),
        ("subject_token_type", ID_TOKEN),
    ];
    form.extend_from_slice(extra);
    id.api.http.post_form("/oauth2/token", &form).await.unwrap()
}

fn invalid_grant(res: &TestResponse, what: &str) {
    assert_eq!(res.status, 400, "{what}: {}", res.body);
    assert_eq!(res.json()["error"], "invalid_grant", "{what}: {}", res.body);
}

#[tokio::test]
async fn a_github_actions_token_becomes_the_agent_s_token_once() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Fed one").await;
    let gh = FakeIssuer::start().await.unwrap();
    let policy = github_policy(
        &id,
        &w,
        gh.issuer(),
        json!({"repository": REPO, "ref": MAIN}),
    )
    .await;
    let aud = policy["audience"].as_str().unwrap();
    assert_eq!(
        aud,
        format!("http://localhost:8080/tenants/{}", w.tenant.id)
    );

    let claims = github_claims(gh.issuer(), aud, REPO, MAIN);
    let external = gh.sign(&claims);
    let res = exchange(&id, &external, &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let b = res.json();
    assert_eq!(
        b["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["scope"], "agents:read");
    let token = b["access_token"].as_str().unwrap();
    let c = claims_of(token);
    assert_eq!(c["sub"], w.agent_id());
    assert_eq!(c["tenant_id"], w.tenant.id);
    assert_eq!(
        c["client_id"],
        format!("trust_policy:{}", policy["id"].as_str().unwrap())
    );
    assert_eq!(c["fed"], json!({"iss": gh.issuer(), "sub": claims["sub"]}));
    // The token works on the management API.
    let me = id
        .api
        .http
        .get_auth(&format!("/api/v1/agents/{}", w.agent_id()), token)
        .await
        .unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    // Audited with the external token's issuer, subject and id.
    let c = env.db.client().await.unwrap();
    let row = c
        .query_one(
            "SELECT details FROM identity.audit_events WHERE action = 'token.exchanged'",
            &[],
        )
        .await
        .unwrap();
    let details: Value = row.get(0);
    assert_eq!(details["kind"], "federated");
    assert_eq!(details["external"]["jti"], claims["jti"]);
    assert_eq!(details["external"]["sub"], claims["sub"]);

    // The same external token again: refused, and the reason audited in the tenant's chain.
    invalid_grant(&exchange(&id, &external, &[]).await, "replay");
    assert_eq!(
        count(&env, "identity.audit_events WHERE action = 'token.refused' AND details->>'reason' = 'replayed' AND outcome = 'failure'").await,
        1
    );
    // A narrower scope is granted; a wider one is not.
    let again = gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN));
    let res = exchange(&id, &again, &[("scope", "documents:read")]).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "invalid_scope");
    // Client authentication has no place in a federated exchange.
    let res = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/oauth2/token")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[
                    ("grant_type", EXCHANGE),
                    (
                        "subject_token",
                        gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN))
                            .as_str(),
                    ),
                    ("subject_token_type", ID_TOKEN),
                ]),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "invalid_request");
}

#[tokio::test]
async fn each_condition_and_both_subject_formats_match_and_mismatch() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Fed conditions").await;
    let gh = FakeIssuer::start().await.unwrap();
    let base = github_claims(gh.issuer(), "x", REPO, MAIN);
    for (name, value, other) in [
        ("repository", REPO, "octo-org/other"),
        (
            "repository_id",
            base["repository_id"].as_str().unwrap(),
            "1",
        ),
        ("repository_owner", "octo-org", "evil-org"),
        ("ref", MAIN, "refs/heads/dev"),
        ("environment", "production", "staging"),
        (
            "workflow_ref",
            base["workflow_ref"].as_str().unwrap(),
            "x/y/.github/workflows/a.yml@refs/heads/main",
        ),
        (
            "job_workflow_ref",
            base["job_workflow_ref"].as_str().unwrap(),
            "x/y/z@refs/heads/main",
        ),
        ("event_name", "push", "pull_request"),
    ] {
        let mut conditions = json!({ name: value });
        if name != "repository" && name != "repository_id" {
            conditions["repository"] = json!(REPO);
        }
        let policy = github_policy(&id, &w, gh.issuer(), conditions).await;
        let aud = policy["audience"].as_str().unwrap().to_owned();
        let claims = |v: &str| {
            let mut c = github_claims(gh.issuer(), &aud, REPO, MAIN);
            c["environment"] = json!("production");
            c[name] = json!(v);
            if name == "repository" {
                c["sub"] = json!(format!("repo:{v}:ref:{MAIN}"));
            }
            c
        };
        let ok = exchange(&id, &gh.sign(&claims(value)), &[]).await;
        assert_eq!(ok.status, 200, "{name}={value}: {}", ok.body);
        invalid_grant(&exchange(&id, &gh.sign(&claims(other)), &[]).await, name);
        let del = id
            .api
            .delete(
                &format!(
                    "/api/v1/federation/trust-policies/{}",
                    policy["id"].as_str().unwrap()
                ),
                &w.admin,
            )
            .await
            .unwrap();
        assert_eq!(del.status, 204);
    }

    // Both subject formats of one repository match; a subject naming another repository
    // than the claims does not.
    let policy = github_policy(&id, &w, gh.issuer(), json!({"repository": REPO})).await;
    let aud = policy["audience"].as_str().unwrap();
    let mut c = github_claims(gh.issuer(), aud, REPO, MAIN);
    let (owner_id, repo_id) = (c["repository_owner_id"].clone(), c["repository_id"].clone());
    c["sub"] = json!(format!(
        "repo:octo-org@{}/octo-repo@{}:environment:production",
        owner_id.as_str().unwrap(),
        repo_id.as_str().unwrap()
    ));
    assert_eq!(exchange(&id, &gh.sign(&c), &[]).await.status, 200);
    let mut c = github_claims(gh.issuer(), aud, REPO, MAIN);
    c["sub"] = json!("repo:octo-org@1/octo-repo@2:ref:refs/heads/main");
    invalid_grant(
        &exchange(&id, &gh.sign(&c), &[]).await,
        "ids of another repository",
    );
    let mut c = github_claims(gh.issuer(), aud, REPO, MAIN);
    c["sub"] = json!("repo:evil-org/octo-repo:ref:refs/heads/main");
    invalid_grant(
        &exchange(&id, &gh.sign(&c), &[]).await,
        "subject of another repository",
    );
}

#[tokio::test]
async fn forged_expired_or_misdirected_tokens_issue_nothing() {
    use base64::Engine as _;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Fed forged").await;
    let gh = FakeIssuer::start().await.unwrap();
    let policy = github_policy(&id, &w, gh.issuer(), json!({"repository": REPO})).await;
    let aud = policy["audience"].as_str().unwrap();
    let good = || github_claims(gh.issuer(), aud, REPO, MAIN);
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"key-1"}"#),
        b64(good().to_string().as_bytes())
    );
    // HS256 with the issuer's public key as the secret (the classic key-confusion forgery).
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks", gh.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = jwks["keys"][0].to_string();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","typ":"JWT","kid":"key-1"}"#),
        b64(good().to_string().as_bytes())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let hs256 = format!(
        "{input}.{}",
        b64(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref())
    );
    let now = now();
    let cases: Vec<(&str, String)> = vec![
        (
            "wrong audience",
            gh.sign(&with("aud", json!("https://github.com/octo-org"))),
        ),
        ("expired", gh.sign(&with("exp", json!(now - 120)))),
        ("not yet valid", gh.sign(&with("nbf", json!(now + 300)))),
        (
            "issued in the future",
            gh.sign(&with("iat", json!(now + 300))),
        ),
        (
            "unknown kid",
            gh.sign_with_header(&json!({"alg": "RS256", "kid": "nope"}), &good()),
        ),
        ("another key", gh.sign_with_stray_key(&good())),
        ("alg none", unsigned),
        ("HS256", hs256),
        (
            "another issuer",
            gh.sign(&with(
                "iss",
                json!("https://token.actions.githubusercontent.com"),
            )),
        ),
        ("not a JWT", "abc".into()),
    ];
    for (what, token) in &cases {
        invalid_grant(&exchange(&id, token, &[]).await, what);
    }
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'token.exchanged'"
        )
        .await,
        0
    );
    // No refusal names a tenant: none of these tokens was shown to be meant for one.
    assert_eq!(
        count(&env, "identity.audit_events WHERE action = 'token.refused'").await,
        0
    );
    // The genuine token still works.
    assert_eq!(exchange(&id, &gh.sign(&good()), &[]).await.status, 200);
}

#[tokio::test]
async fn key_rotation_at_the_issuer_is_followed() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Fed rotation").await;
    let gh = FakeIssuer::start().await.unwrap();
    let p = github_policy(&id, &w, gh.issuer(), json!({"repository": REPO})).await;
    let aud = p["audience"].as_str().unwrap();
    assert_eq!(
        exchange(
            &id,
            &gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN)),
            &[]
        )
        .await
        .status,
        200
    );
    let fetched = gh.jwks_fetches();
    // Cached: a second exchange does not fetch the keys again.
    assert_eq!(
        exchange(
            &id,
            &gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN)),
            &[]
        )
        .await
        .status,
        200
    );
    assert_eq!(gh.jwks_fetches(), fetched);
    gh.rotate();
    gh.retire();
    // Tokens of the new key are accepted once the key set may be fetched again (at most
    // once a second), each unknown `kid` costing no more than that one fetch.
    let started = std::time::Instant::now();
    let accepted = testkit::eventually(std::time::Duration::from_secs(3), || async {
        let t = gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN));
        (exchange(&id, &t, &[]).await.status == 200).then_some(())
    })
    .await;
    assert!(accepted.is_some(), "the new key was never accepted");
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
    let after = gh.jwks_fetches() - fetched;
    assert!((1..=3).contains(&after), "{after} fetches");
}

#[tokio::test]
async fn exchanges_and_policy_changes_reach_webhooks() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[
            ("FEDERATION_ALLOWED_NETWORKS", "127.0.0.0/8"),
            ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
            ("WEBHOOK_POLL_INTERVAL_MS", "20"),
        ],
    )
    .await;
    let w = world(&id, "Fed hooks").await;
    let rx = testkit::receiver::Receiver::start(0).await.unwrap();
    let hook = id
        .api
        .http
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": rx.url(), "event_types": ["federation.policy.created", "token.exchanged"]}),
        )
        .await
        .unwrap();
    assert_eq!(hook.status, 201, "{}", hook.body);
    let gh = FakeIssuer::start().await.unwrap();
    let policy = github_policy(&id, &w, gh.issuer(), json!({"repository": REPO})).await;
    let aud = policy["audience"].as_str().unwrap();
    let res = exchange(
        &id,
        &gh.sign(&github_claims(gh.issuer(), aud, REPO, MAIN)),
        &[],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let got = testkit::eventually(std::time::Duration::from_secs(5), || async {
        let got = rx.received();
        (got.len() >= 2).then_some(got)
    })
    .await
    .expect("two deliveries");
    let types: Vec<String> = got
        .iter()
        .map(|r| r.headers["x-agentidp-event"].clone())
        .collect();
    assert_eq!(types, ["federation.policy.created", "token.exchanged"]);
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["data"]["kind"], "federated");
    assert_eq!(body["data"]["trust_policy_id"], policy["id"]);
}
