//! private_key_jwt (RFC 7523): key credentials, assertions at the token and introspection
//! endpoints, and everything a forged, replayed or misdirected assertion gets.

use serde_json::{Value, json};
use testkit::jws::{EcKey, now};
use testkit::oidc::FakeIssuer;
use testkit::{TestEnv, TestResponse};

use crate::helpers::{Identity, World, claims_of, count, spawn, world};

const ISSUER: &str = "http://localhost:8080";
const ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn key_credential(id: &Identity, w: &World, body: Value) -> TestResponse {
    id.api
        .http
        .post_json(
            &format!("/api/v1/agents/{}/credentials", w.agent_id()),
            Some(&w.admin),
            &body,
        )
        .await
        .unwrap()
}

async fn token_with(id: &Identity, assertion: &str, extra: &[(&str, &str)]) -> TestResponse {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    id.api.http.post_form("/oauth2/token", &form).await.unwrap()
}

fn invalid_client(res: &TestResponse, what: &str) {
    assert_eq!(res.status, 401, "{what}: {}", res.body);
    assert_eq!(
        res.json()["error"],
        "invalid_client",
        "{what}: {}",
        res.body
    );
}

#[tokio::test]
async fn a_key_credential_gets_tokens_with_signed_assertions_only() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Keys").await;
    let key = EcKey::generate("k1");
    let res = key_credential(
        &id,
        &w,
        json!({"type": "private_key_jwt", "jwks": key.jwks()}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let cred = res.json();
    assert!(cred.get("client_secret").is_none(), "{cred}");
    assert_eq!(cred["type"], "private_key_jwt");
    let client_id = cred["client_id"].as_str().unwrap().to_owned();

    let received = format!("{}/oauth2/token", id.app.base_url);
    for aud in [
        format!("{ISSUER}/oauth2/token"),
        ISSUER.to_owned(),
        received.clone(),
    ] {
        let res = token_with(&id, &key.assertion(&client_id, &aud, 300), &[]).await;
        assert_eq!(res.status, 200, "aud {aud}: {}", res.body);
        assert_eq!(
            claims_of(res.json()["access_token"].as_str().unwrap())["client_id"],
            client_id
        );
    }
    // client_id in the form may repeat the assertion's; another one is refused.
    let a = key.assertion(&client_id, ISSUER, 300);
    assert_eq!(
        token_with(&id, &a, &[("client_id", &client_id)])
            .await
            .status,
        200
    );
    invalid_client(
        &token_with(
            &id,
            &key.assertion(&client_id, ISSUER, 300),
            &[("client_id", &w.cred.client_id)],
        )
        .await,
        "other client_id",
    );

    let mut hs_input = a.rsplit_once('.').unwrap().0.to_owned();
    hs_input = hs_input.replacen(
        hs_input.split('.').next().unwrap(),
        &base64_url(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#),
        1,
    );
    let other = EcKey::generate("k1");
    let n = now();
    let claims = |aud: &str, exp: i64| json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": n, "exp": exp, "jti": uuid::Uuid::new_v4().to_string()});
    let fresh = key.assertion(&client_id, ISSUER, 300);
    assert_eq!(token_with(&id, &fresh, &[]).await.status, 200);
    for (what, assertion) in [
        ("replay", fresh.clone()),
        (
            "wrong aud",
            key.assertion(&client_id, "https://elsewhere.example/token", 300),
        ),
        (
            "expired",
            key.sign_with_header(
                &json!({"alg": "ES256", "kid": "k1"}),
                &claims(ISSUER, n - 120),
            ),
        ),
        (
            "over an hour",
            key.sign_with_header(
                &json!({"alg": "ES256", "kid": "k1"}),
                &claims(ISSUER, n + 7300),
            ),
        ),
        ("another key", other.assertion(&client_id, ISSUER, 300)),
        (
            "alg none",
            format!(
                "{}.{}.",
                base64_url(br#"{"alg":"none"}"#),
                base64_url(claims(ISSUER, n + 60).to_string().as_bytes())
            ),
        ),
        (
            "HS256",
            format!(
                "{hs_input}.{}",
                base64_url(b"forged-mac-0123456789abcdef0123456789")
            ),
        ),
        (
            "no jti",
            key.sign_with_header(
                &json!({"alg": "ES256", "kid": "k1"}),
                &json!({"iss": client_id, "sub": client_id, "aud": ISSUER, "exp": n + 60}),
            ),
        ),
    ] {
        invalid_client(&token_with(&id, &assertion, &[]).await, what);
    }
    // A key registered by another client does not prove this one.
    let theirs = EcKey::generate("theirs");
    let res = key_credential(
        &id,
        &w,
        json!({"type": "private_key_jwt", "jwks": theirs.jwks()}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let their_client = res.json()["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        token_with(&id, &theirs.assertion(&their_client, ISSUER, 300), &[])
            .await
            .status,
        200
    );
    invalid_client(
        &token_with(&id, &theirs.assertion(&client_id, ISSUER, 300), &[]).await,
        "another client's key",
    );
    // A secret never authenticates a key credential; an assertion never a secret one.
    invalid_client(
        &id.api
            .token_response(&client_id, "anything", &[])
            .await
            .unwrap(),
        "secret for a key client",
    );
    invalid_client(
        &token_with(&id, &key.assertion(&w.cred.client_id, ISSUER, 300), &[]).await,
        "assertion for a secret client",
    );
    // Refusals are audited with their reasons.
    assert!(count(&env, "identity.audit_events WHERE action = 'token.refused' AND details->>'reason' = 'assertion_replayed'").await >= 1);

    // Introspection with an assertion.
    let tok = token_with(&id, &key.assertion(&client_id, ISSUER, 300), &[])
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let intro = id
        .api
        .http
        .post_form(
            "/oauth2/introspect",
            &[
                ("token", tok.as_str()),
                ("client_assertion_type", ASSERTION),
                (
                    "client_assertion",
                    &key.assertion(&client_id, &format!("{ISSUER}/oauth2/introspect"), 300),
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(intro.status, 200, "{}", intro.body);
    assert_eq!(intro.json()["active"], true);

    // Key rotation: the new key works, the removed one does not.
    let new_key = EcKey::generate("k2");
    let path = format!(
        "/api/v1/agents/{}/credentials/{}",
        w.agent_id(),
        cred["id"].as_str().unwrap()
    );
    let res = id
        .api
        .patch(&path, &w.admin, &json!({"jwks": new_key.jwks()}))
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        token_with(&id, &new_key.assertion(&client_id, ISSUER, 300), &[])
            .await
            .status,
        200
    );
    invalid_client(
        &token_with(&id, &key.assertion(&client_id, ISSUER, 300), &[]).await,
        "removed key",
    );
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn bad_keys_are_refused_and_jwks_uri_keys_are_fetched() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("FEDERATION_ALLOWED_NETWORKS", "127.0.0.0/8")]).await;
    let w = world(&id, "Key rules").await;
    let key = EcKey::generate("k1");
    let mut private = key.jwk();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    for (body, field) in [
        (
            json!({"type": "private_key_jwt", "jwks": {"keys": [private]}}),
            "jwks.keys[0]",
        ),
        (json!({"type": "private_key_jwt"}), "jwks"),
        (
            json!({"type": "private_key_jwt", "jwks": key.jwks(), "jwks_uri": "https://a.example/jwks"}),
            "jwks",
        ),
        (
            json!({"type": "private_key_jwt", "jwks_uri": "http://203.0.113.5/jwks"}),
            "jwks_uri",
        ),
        (json!({"type": "magic"}), "type"),
        (json!({"jwks": key.jwks()}), "jwks"),
    ] {
        let res = key_credential(&id, &w, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(res.body.contains(field), "{field}: {}", res.body);
    }
    assert_eq!(
        count(
            &env,
            "identity.clients WHERE auth_method = 'private_key_jwt'"
        )
        .await,
        0
    );

    // Keys published at a jwks_uri (the fake issuer's RSA keys): fetched, cached, followed.
    let host = FakeIssuer::start().await.unwrap();
    let res = key_credential(&id, &w, json!({"type": "private_key_jwt", "jwks_uri": format!("{}/.well-known/jwks", host.issuer())})).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let client_id = res.json()["client_id"].as_str().unwrap().to_owned();
    let assertion = |host: &FakeIssuer| {
        let n = now();
        host.sign(&json!({"iss": client_id, "sub": client_id, "aud": ISSUER, "iat": n, "exp": n + 300, "jti": uuid::Uuid::new_v4().to_string()}))
    };
    assert_eq!(token_with(&id, &assertion(&host), &[]).await.status, 200);
    assert_eq!(token_with(&id, &assertion(&host), &[]).await.status, 200);
    assert_eq!(host.jwks_fetches(), 1);
}

#[tokio::test]
async fn tenant_admin_clients_can_be_key_based() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Admin keys").await;
    let key = EcKey::generate("admin");
    let res = id
        .api
        .http
        .post_json(
            "/api/v1/tenants/me/clients",
            Some(&w.admin),
            &json!({"name": "deployer", "scopes": ["agents:read"], "type": "private_key_jwt", "jwks": key.jwks()}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    assert!(res.json().get("client_secret").is_none(), "{}", res.body);
    let client_id = res.json()["client_id"].as_str().unwrap().to_owned();
    let tok = token_with(&id, &key.assertion(&client_id, ISSUER, 300), &[]).await;
    assert_eq!(tok.status, 200, "{}", tok.body);
    assert_eq!(tok.json()["scope"], "agents:read");
    let rotate = id
        .api
        .post_empty(
            &format!("/api/v1/tenants/me/clients/{client_id}/rotate"),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(rotate.status, 422, "{}", rotate.body);
}
