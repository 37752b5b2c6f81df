//! Resource servers and audiences (RFC 8707): a token names only the platform API or a
//! resource server of its client's tenant, carries only that server's scopes, and is
//! accepted by the management API only when it is an access token for the platform API.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::receiver::Receiver;
use testkit::{TestEnv, eventually};

use crate::helpers::{Identity, World, claims_of, count, spawn, world};

const ISSUER: &str = "http://localhost:8080";
const DOCS: &str = "https://docs.example/api";

async fn register(id: &Identity, token: &str, body: &Value) -> testkit::TestResponse {
    id.api
        .http
        .post_json("/api/v1/resource-servers", Some(token), body)
        .await
        .unwrap()
}

/// A token request of the world's agent credential with `extra` form fields.
async fn agent_token(id: &Identity, w: &World, extra: &[(&str, &str)]) -> testkit::TestResponse {
    id.api
        .token_response(&w.cred.client_id, &w.cred.client_secret, extra)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_free_form_audience_is_an_invalid_target() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Free form").await;
    for (param, value) in [
        ("audience", "https://api.partner.example"),
        ("resource", "https://api.partner.example"),
        ("audience", "urn:anything"),
        ("audience", "http://localhost:8080/"),
    ] {
        let res = agent_token(&id, &w, &[(param, value)]).await;
        assert_eq!(res.status, 400, "{param}={value}: {}", res.body);
        assert_eq!(res.json()["error"], "invalid_target", "{}", res.body);
    }
    // The platform API itself may be named.
    for param in ["audience", "resource"] {
        let res = agent_token(&id, &w, &[(param, ISSUER)]).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let c = claims_of(res.json()["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], ISSUER);
        assert_eq!(c["scope"], "agents:read documents:read");
    }
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'token.issued' AND details->>'aud' <> 'http://localhost:8080'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_resource_server_token_carries_its_audience_and_scopes_and_is_refused_by_the_platform() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Docs owner").await;
    let rs = register(
        &id,
        &w.admin,
        &json!({"identifier": DOCS, "name": "Docs API", "scopes": ["documents:read", "documents:write"]}),
    )
    .await;
    assert_eq!(rs.status, 201, "{}", rs.body);

    // The agent holds agents:read and documents:read; the server defines documents:*.
    let res = agent_token(&id, &w, &[("resource", DOCS)]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let b = res.json();
    assert_eq!(b["scope"], "documents:read");
    let token = b["access_token"].as_str().unwrap().to_owned();
    let c = claims_of(&token);
    assert_eq!(c["aud"], DOCS);
    assert_eq!(c["scope"], "documents:read");

    // Asking for a platform scope for the server leaves it out; asking for a scope the
    // client does not hold is refused as before.
    let narrowed = agent_token(
        &id,
        &w,
        &[("audience", DOCS), ("scope", "agents:read documents:read")],
    )
    .await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);
    assert_eq!(narrowed.json()["scope"], "documents:read");
    let none = agent_token(&id, &w, &[("audience", DOCS), ("scope", "agents:read")]).await;
    assert_eq!(none.status, 400, "{}", none.body);
    assert_eq!(none.json()["error"], "invalid_scope");
    let unheld = agent_token(&id, &w, &[("audience", DOCS), ("scope", "documents:write")]).await;
    assert_eq!(unheld.json()["error"], "invalid_scope", "{}", unheld.body);

    // The resource server's token is no key to the management API.
    let refused = id
        .api
        .http
        .get_auth("/api/v1/agents", &token)
        .await
        .unwrap();
    assert_eq!(refused.status, 401, "{}", refused.body);
    // Introspection still describes it to the tenant.
    let seen = id
        .api
        .introspect(&w.tenant.client_id, &w.tenant.client_secret, &token)
        .await
        .unwrap();
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["aud"], DOCS);

    // Another tenant cannot name this tenant's server, nor register its identifier for
    // itself: all tenants' tokens share the issuer, so it could then mint tokens this
    // tenant's API would accept.
    let other = world(&id, "Other tenant").await;
    let foreign = agent_token(&id, &other, &[("resource", DOCS)]).await;
    assert_eq!(foreign.status, 400, "{}", foreign.body);
    assert_eq!(foreign.json()["error"], "invalid_target");
    let squat = register(
        &id,
        &other.admin,
        &json!({"identifier": DOCS, "name": "Not theirs", "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(squat.status, 409, "{}", squat.body);
    assert_eq!(squat.json()["code"], "resource_server_exists");
    let still = agent_token(&id, &other, &[("resource", DOCS)]).await;
    assert_eq!(still.json()["error"], "invalid_target", "{}", still.body);
}

#[tokio::test]
async fn resource_servers_are_managed_audited_and_take_effect_at_once() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[
            ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
            ("WEBHOOK_POLL_INTERVAL_MS", "20"),
        ],
    )
    .await;
    let w = world(&id, "Servers").await;
    let rx = Receiver::start(0).await.unwrap();
    let hook = id
        .api
        .http
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": rx.url(), "event_types": ["resource_server.created", "resource_server.updated", "resource_server.deleted"]}),
        )
        .await
        .unwrap();
    assert_eq!(hook.status, 201, "{}", hook.body);

    // Bad input: every problem at once, nothing stored.
    let bad = register(
        &id,
        &w.admin,
        &json!({"identifier": "not a uri", "name": "", "scopes": ["Docs:Read", "agents:read", "internal"]}),
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<String> = bad.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        ["identifier", "name", "scopes[0]", "scopes[1]", "scopes[2]"],
        "{}",
        bad.body
    );
    for reserved in [
        ISSUER,
        "http://localhost:8080/",
        "https://docs.example/api#frag",
    ] {
        let res = register(
            &id,
            &w.admin,
            &json!({"identifier": reserved, "name": "x", "scopes": []}),
        )
        .await;
        assert_eq!(res.status, 422, "{reserved}: {}", res.body);
    }
    assert_eq!(count(&env, "identity.resource_servers").await, 0);

    // Writes need admin:tenant; reads agents:read.
    let reader = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let denied = register(
        &id,
        &reader,
        &json!({"identifier": DOCS, "name": "Docs", "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(denied.status, 403, "{}", denied.body);

    let created = register(
        &id,
        &w.admin,
        &json!({"identifier": DOCS, "name": "Docs", "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let rs = created.json();
    let rs_id = rs["id"].as_str().unwrap().to_owned();
    assert_eq!(rs["identifier"], DOCS);
    assert_eq!(rs["scopes"], json!(["documents:read"]));
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/resource-servers/{rs_id}").as_str())
    );
    let dup = register(
        &id,
        &w.admin,
        &json!({"identifier": DOCS, "name": "Again", "scopes": []}),
    )
    .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.json()["code"], "resource_server_exists");
    // Identifiers are unique across tenants (every tenant's tokens share the issuer): another
    // tenant cannot register this one, and nothing of its attempt is stored.
    let other = world(&id, "Servers elsewhere").await;
    let elsewhere = register(
        &id,
        &other.admin,
        &json!({"identifier": DOCS, "name": "Theirs", "scopes": []}),
    )
    .await;
    assert_eq!(elsewhere.status, 409, "{}", elsewhere.body);
    assert_eq!(elsewhere.json()["code"], "resource_server_exists");
    assert_eq!(
        count(
            &env,
            &format!(
                "identity.resource_servers WHERE tenant_id = '{}'",
                other.tenant.id
            )
        )
        .await,
        0
    );

    let listed = id
        .api
        .http
        .get_auth("/api/v1/resource-servers", &reader)
        .await
        .unwrap();
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["data"].as_array().unwrap().len(), 1);
    let path = format!("/api/v1/resource-servers/{rs_id}");
    let got = id.api.http.get_auth(&path, &reader).await.unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["name"], "Docs");
    let theirs = id.api.http.get_auth(&path, &other.admin).await.unwrap();
    assert_eq!(theirs.status, 404);

    // Tokens for it follow its changes on this instance at once.
    let before = agent_token(&id, &w, &[("resource", DOCS)]).await;
    assert_eq!(before.json()["scope"], "documents:read", "{}", before.body);
    let patched = id
        .api
        .patch(
            &path,
            &w.admin,
            &json!({"name": "Documents", "scopes": ["documents:write"]}),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["scopes"], json!(["documents:write"]));
    let after = agent_token(&id, &w, &[("resource", DOCS)]).await;
    assert_eq!(after.status, 200, "{}", after.body);
    assert_eq!(after.json()["scope"], "", "{}", after.body);

    let deleted = id.api.delete(&path, &w.admin).await.unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = agent_token(&id, &w, &[("resource", DOCS)]).await;
    assert_eq!(gone.json()["error"], "invalid_target", "{}", gone.body);
    assert_eq!(
        id.api.http.get_auth(&path, &w.admin).await.unwrap().status,
        404
    );

    // Audited, and announced to webhooks.
    for action in [
        "resource_server.created",
        "resource_server.updated",
        "resource_server.deleted",
    ] {
        assert_eq!(
            count(
                &env,
                &format!(
                    "identity.audit_events WHERE action = '{action}' AND tenant_id = '{}'",
                    w.tenant.id
                )
            )
            .await,
            1,
            "{action}"
        );
    }
    let got = eventually(Duration::from_secs(10), || async {
        let r = rx.received();
        (r.len() >= 3).then_some(r)
    })
    .await
    .expect("three deliveries");
    let types: Vec<String> = got
        .iter()
        .map(|r| r.headers["x-agentidp-event"].clone())
        .collect();
    assert_eq!(
        types,
        [
            "resource_server.created",
            "resource_server.updated",
            "resource_server.deleted"
        ]
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["data"]["resource_server"]["identifier"], DOCS);
}

/// Signs `claims` with identity's active key under the JWS type `typ`.
fn signed(id: &Identity, typ: &str, claims: &Value) -> String {
    let key = id.app.state.keys.signing_key().expect("an active key");
    key.sign_typed(typ, claims.to_string().as_bytes()).unwrap()
}

#[tokio::test]
async fn only_access_tokens_for_the_platform_are_accepted() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Typed").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": ISSUER, "aud": ISSUER, "sub": w.tenant.client_id, "client_id": w.tenant.client_id,
        "jti": uuid::Uuid::now_v7(), "iat": now, "nbf": now, "exp": now + 300,
        "scope": "agents:read admin:tenant", "tenant_id": w.tenant.id,
    });
    let ok = signed(&id, "at+jwt", &claims);
    let res = id.api.http.get_auth("/api/v1/agents", &ok).await.unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    for typ in ["JWT", "audit-checkpoint+jwt", "jwt"] {
        let other = signed(&id, typ, &claims);
        let res = id
            .api
            .http
            .get_auth("/api/v1/agents", &other)
            .await
            .unwrap();
        assert_eq!(res.status, 401, "typ {typ}: {}", res.body);
    }
    // An audience list that includes the platform is not a token for the platform.
    let mut both = claims.clone();
    both["aud"] = json!([ISSUER, DOCS]);
    let res = id
        .api
        .http
        .get_auth("/api/v1/agents", &signed(&id, "at+jwt", &both))
        .await
        .unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
}
