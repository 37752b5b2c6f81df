//! `/oauth2/token`, `/oauth2/introspect`, `/oauth2/revoke` and their aliases.

use serde_json::Value;
use testkit::TestEnv;

use crate::helpers::{claims_of, count, spawn, world};

#[tokio::test]
async fn client_credentials_with_basic_and_post_auth() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Tokens").await;
    let basic = id
        .api
        .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
        .await
        .unwrap();
    assert_eq!(basic.status, 200, "{}", basic.body);
    assert_eq!(basic.header("cache-control"), Some("no-store"));
    assert_eq!(basic.header("pragma"), Some("no-cache"));
    let b = basic.json();
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["scope"], "agents:read documents:read");

    let post = id
        .api
        .http
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &w.cred.client_id),
                ("client_secret", &w.cred.client_secret),
                ("scope", "documents:read"),
                ("audience", "http://localhost:8080"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(post.status, 200, "{}", post.body);
    let token = post.json()["access_token"].as_str().unwrap().to_owned();
    let c = claims_of(&token);
    assert_eq!(c["iss"], "http://localhost:8080");
    assert_eq!(c["sub"], w.agent_id());
    assert_eq!(c["aud"], "http://localhost:8080");
    assert_eq!(c["scope"], "documents:read");
    assert_eq!(c["client_id"], w.cred.client_id.as_str());
    assert_eq!(c["tenant_id"], w.tenant.id.as_str());
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(c["nbf"], c["iat"]);
    assert!(uuid::Uuid::parse_str(c["jti"].as_str().unwrap()).is_ok());

    // The alias works the same.
    let alias = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/api/v1/token")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
        .unwrap();
    assert_eq!(alias.status, 200);

    // Every issued token is in the audit log, committed before the answer.
    let jti = c["jti"].as_str().unwrap();
    assert_eq!(
        count(
            &env,
            &format!(
                "identity.audit_events WHERE action = 'token.issued' AND target = 'token:{jti}'"
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn tokens_verify_against_the_published_jwks() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Jwks").await;
    let token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let jwks = id.api.http.get("/.well-known/jwks.json").await.unwrap();
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("kid published");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_issuer(&["http://localhost:8080"]);
    v.set_audience(&["http://localhost:8080"]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &v,
    )
    .unwrap();
    assert_eq!(data.claims["sub"], w.agent_id());

    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let m = id.api.http.get(path).await.unwrap().json();
        assert_eq!(m["issuer"], "http://localhost:8080");
        assert_eq!(m["token_endpoint"], "http://localhost:8080/oauth2/token");
        assert_eq!(m["jwks_uri"], "http://localhost:8080/.well-known/jwks.json");
        assert!(
            m["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&"client_credentials".into())
        );
    }
}

#[tokio::test]
async fn malformed_token_requests_get_rfc6749_errors_never_500() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Errors").await;
    let http = &id.api.http;
    let form = |body: &'static str| {
        http.request(reqwest::Method::POST, "/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let basic = |id_: &str, s: &str| {
        http.request(reqwest::Method::POST, "/oauth2/token")
            .basic_auth(id_, Some(s))
            .header("content-type", "application/x-www-form-urlencoded")
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (form(""), 400, "invalid_request"),
        (
            form("grant_type=password&username=a&password=b"),
            400,
            "unsupported_grant_type",
        ),
        (form("grant_type=client_credentials"), 401, "invalid_client"),
        (
            form("grant_type=client_credentials&grant_type=client_credentials"),
            400,
            "invalid_request",
        ),
        (
            form("grant_type=client_credentials&client_id=nope&client_secret=nope"),
            401,
            "invalid_client",
        ),
        (
            form("grant_type=client_credentials&client_id=%ZZ&client_secret=%"),
            401,
            "invalid_client",
        ),
        (form("\u{0}\u{1}==&&&=="), 400, "invalid_request"),
        (
            basic(&w.cred.client_id, "wrong").body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            basic(&w.cred.client_id, &w.cred.client_secret)
                .body("grant_type=client_credentials&client_id=x&client_secret=y"),
            400,
            "invalid_request",
        ),
        (
            basic(&w.cred.client_id, &w.cred.client_secret)
                .body("grant_type=client_credentials&scope=admin:tenant"),
            400,
            "invalid_scope",
        ),
        (
            basic(&w.cred.client_id, &w.cred.client_secret)
                .body("grant_type=client_credentials&audience=a%20b"),
            400,
            "invalid_target",
        ),
        (
            http.request(reqwest::Method::POST, "/oauth2/token")
                .header("content-type", "application/json")
                .body("{\"grant_type\":\"client_credentials\"}"),
            400,
            "invalid_request",
        ),
        (
            http.request(reqwest::Method::POST, "/oauth2/token")
                .header("authorization", "Basic !!!not-base64")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
        (
            http.request(reqwest::Method::POST, "/oauth2/token")
                .header("authorization", "Bearer abc")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials"),
            401,
            "invalid_client",
        ),
    ];
    for (i, (req, status, error)) in cases.into_iter().enumerate() {
        let res = http.send(req).await.unwrap();
        assert_eq!(res.status, status, "case {i}: {}", res.body);
        let body = res.json();
        assert_eq!(body["error"], error, "case {i}: {}", res.body);
        assert_eq!(res.header("cache-control"), Some("no-store"), "case {i}");
        if status == 401 {
            assert!(
                res.header("www-authenticate").unwrap().starts_with("Basic"),
                "case {i}"
            );
        }
    }
    // A wrong secret for a known client is audited with its reason; the client only sees
    // invalid_client.
    assert_eq!(
        count(&env, "identity.audit_events WHERE action = 'token.refused' AND details->>'reason' = 'wrong_secret'").await,
        1
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Introspect").await;
    let other = world(&id, "Other").await;
    let token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let t = &w.tenant;

    let active = id
        .api
        .introspect(&t.client_id, &t.client_secret, &token)
        .await
        .unwrap();
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], w.agent_id());
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["client_id"], w.cred.client_id.as_str());
    // Another tenant learns nothing.
    let foreign = id
        .api
        .introspect(&other.tenant.client_id, &other.tenant.client_secret, &token)
        .await
        .unwrap();
    assert_eq!(foreign, serde_json::json!({"active": false}));
    assert_eq!(
        id.api
            .introspect(&t.client_id, &t.client_secret, "garbage")
            .await
            .unwrap()["active"],
        false
    );
    // The caller must authenticate.
    let anon = id
        .api
        .http
        .post_form("/oauth2/introspect", &[("token", &token)])
        .await
        .unwrap();
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json()["error"], "invalid_client");
    // A bearer with tokens:read may introspect too (the alias path).
    let bearer = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/api/v1/token/introspect")
                .bearer_auth(&w.admin)
                .form(&[("token", token.as_str())]),
        )
        .await
        .unwrap();
    assert_eq!(bearer.json()["active"], true);

    // An agent may not revoke another client's token of its tenant...
    let admin_token = w.admin.clone();
    let refused = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/oauth2/revoke")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[("token", admin_token.as_str())]),
        )
        .await
        .unwrap();
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "unauthorized_client");
    // ...but its own, and then the token is dead everywhere.
    assert_eq!(
        id.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        200
    );
    let revoked = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/oauth2/revoke")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[
                    ("token", token.as_str()),
                    ("token_type_hint", "access_token"),
                ]),
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, 200);
    assert_eq!(
        id.api
            .introspect(&t.client_id, &t.client_secret, &token)
            .await
            .unwrap()["active"],
        false
    );
    let after = id
        .api
        .http
        .get_auth("/api/v1/agents", &token)
        .await
        .unwrap();
    assert_eq!(after.status, 401);
    assert!(after.json()["detail"].as_str().unwrap().contains("revoked"));
    // Revoking nonsense is fine (RFC 7009), through the alias.
    let nonsense = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/api/v1/token/revoke")
                .basic_auth(&t.client_id, Some(&t.client_secret))
                .form(&[("token", "nonsense")]),
        )
        .await
        .unwrap();
    assert_eq!(nonsense.status, 200);
    assert_eq!(
        count(&env, "identity.token_revocations WHERE kind = 'jti'").await,
        1
    );
    assert_eq!(
        count(&env, "identity.audit_events WHERE action = 'token.revoked'").await,
        1
    );
}

#[tokio::test]
async fn token_endpoint_limits_per_client() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("RATE_LIMIT_TOKEN_CLIENT_MAX", "3")]).await;
    let w = world(&id, "Limited").await;
    for _ in 0..3 {
        assert_eq!(
            id.api
                .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
                .await
                .unwrap()
                .status,
            200
        );
    }
    let limited = id
        .api
        .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
        .await
        .unwrap();
    assert_eq!(limited.status, 429);
    assert!(
        limited
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(limited.json()["error"], "rate_limited");
    // Other clients are not affected.
    assert!(
        id.api
            .token(&w.tenant.client_id, &w.tenant.client_secret)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn issuances_and_api_calls_are_metered() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Metered").await;
    let _ = id.app.state.metering.drain();
    for _ in 0..3 {
        id.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }
    id.api
        .http
        .get_auth("/api/v1/agents", &w.admin)
        .await
        .unwrap();
    let tenant = uuid::Uuid::parse_str(&w.tenant.id).unwrap();
    let counts = id.app.state.metering.drain();
    let get = |m: &str| {
        counts
            .iter()
            .filter(|c| c.tenant_id == tenant && c.metric.as_str() == m)
            .map(|c| c.count)
            .sum::<u64>()
    };
    assert_eq!(get("token_issuances"), 3);
    assert_eq!(get("api_calls"), 1);
}
