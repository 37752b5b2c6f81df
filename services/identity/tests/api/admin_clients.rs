//! `/api/v1/tenants/me/clients`: the tenant-admin clients' lifecycle, and
//! `identity tenant-admin-reset`.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::identity::Tenant;
use testkit::receiver::Receiver;
use testkit::{TestEnv, TestResponse, eventually};

use crate::helpers::{Identity, count, spawn};

const CLIENTS: &str = "/api/v1/tenants/me/clients";

async fn create(id: &Identity, token: &str, body: Value) -> TestResponse {
    id.api
        .http
        .post_json(CLIENTS, Some(token), &body)
        .await
        .unwrap()
}

/// A new admin client with `scopes`: (client_id, client_secret).
async fn client(id: &Identity, token: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let b: Value = create(id, token, json!({"name": name, "scopes": scopes}))
        .await
        .expect(201);
    (
        b["client_id"].as_str().unwrap().to_owned(),
        b["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn list(id: &Identity, token: &str) -> Vec<Value> {
    let b: Value = id
        .api
        .http
        .get_auth(CLIENTS, token)
        .await
        .unwrap()
        .expect(200);
    b["data"].as_array().unwrap().clone()
}

async fn rotate(id: &Identity, token: &str, client_id: &str, body: Value) -> TestResponse {
    id.api
        .http
        .post_json(&format!("{CLIENTS}/{client_id}/rotate"), Some(token), &body)
        .await
        .unwrap()
}

async fn delete(id: &Identity, token: &str, client_id: &str) -> TestResponse {
    id.api
        .delete(&format!("{CLIENTS}/{client_id}"), token)
        .await
        .unwrap()
}

/// A signed-up tenant and its admin token.
async fn tenant(id: &Identity, name: &str) -> (Tenant, String) {
    let t = id.api.signup(name).await.unwrap();
    let admin = id.api.admin_token(&t).await.unwrap();
    (t, admin)
}

fn all_scopes() -> Vec<&'static str> {
    domain::Scope::TENANT_ADMIN
        .iter()
        .map(|s| s.as_str())
        .collect()
}

#[tokio::test]
async fn admin_clients_are_listed_created_and_get_only_their_scopes() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (t, admin) = tenant(&id, "Listed").await;

    // The signup client is in the list, by name, with every platform scope.
    let before = list(&id, &admin).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["client_id"], t.client_id.as_str());
    assert_eq!(before[0]["name"], "signup");
    assert_eq!(before[0]["scopes"], json!(all_scopes()));
    assert!(before[0].get("client_secret").is_none());

    let res = create(
        &id,
        &admin,
        json!({"name": "ci deploys", "scopes": ["agents:read", "agents:write"]}),
    )
    .await;
    let made: Value = res.expect(201);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(made["name"], "ci deploys");
    assert_eq!(made["scopes"], json!(["agents:read", "agents:write"]));
    assert!(made["created_at"].is_string());
    let cid = made["client_id"].as_str().unwrap();
    let secret = made["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("aidp_sk_"));

    let after = list(&id, &admin).await;
    assert_eq!(after.len(), 2);
    assert_eq!(after[1]["client_id"], cid);
    assert!(after.iter().all(|c| c.get("client_secret").is_none()));

    // Its tokens carry its scopes only.
    let tok: Value = id
        .api
        .token_response(cid, secret, &[])
        .await
        .unwrap()
        .expect(200);
    assert_eq!(tok["scope"], "agents:read agents:write");
    let token = tok["access_token"].as_str().unwrap();
    id.api
        .http
        .get_auth("/api/v1/agents", token)
        .await
        .unwrap()
        .expect_status(200);
    // Without admin:tenant, none of the client routes answer.
    let refused = [
        id.api.http.get_auth(CLIENTS, token).await.unwrap(),
        create(&id, token, json!({"name": "x", "scopes": ["agents:read"]})).await,
        rotate(&id, token, cid, json!({})).await,
        delete(&id, token, cid).await,
    ];
    for r in refused {
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.json()["code"], "insufficient_scope");
    }
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'tenant.client.created'"
        )
        .await,
        1
    );
    // Another tenant sees neither client.
    let (_, other) = tenant(&id, "Other").await;
    assert_eq!(list(&id, &other).await.len(), 1);
    assert_eq!(delete(&id, &other, cid).await.status, 404);
    assert_eq!(rotate(&id, &other, cid, json!({})).await.status, 404);
}

#[tokio::test]
async fn bad_clients_name_the_field_and_store_nothing() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (_, admin) = tenant(&id, "Strict").await;
    let cases = [
        (
            json!({"name": "x", "scopes": ["agents:read", "internal"]}),
            "scopes[1]",
        ),
        (
            json!({"name": "x", "scopes": ["documents:read"]}),
            "scopes[0]",
        ),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x"}), "scopes"),
        (json!({"name": " ", "scopes": ["agents:read"]}), "name"),
        (
            json!({"name": "x".repeat(101), "scopes": ["agents:read"]}),
            "name",
        ),
        (
            json!({"name": "x", "scopes": ["agents:read"], "secret": "mine"}),
            "secret",
        ),
    ];
    for (body, field) in cases {
        let res = create(&id, &admin, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        let fields = res.error_fields();
        assert!(fields.contains(&field.to_owned()), "{body}: {fields:?}");
    }
    // A caller cannot hand out a scope it does not hold itself.
    let (cid, secret) = client(
        &id,
        &admin,
        "limited admin",
        &["admin:tenant", "agents:read"],
    )
    .await;
    let limited = id.api.token(&cid, &secret).await.unwrap();
    let res = create(
        &id,
        &limited,
        json!({"name": "y", "scopes": ["billing:write"]}),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(res.json()["code"], "scope_not_held");
    // Nor rotate (and so learn the secret of) or delete a client holding more than itself.
    let signup = &list(&id, &admin).await[0];
    let signup_id = signup["client_id"].as_str().unwrap();
    assert_eq!(
        rotate(&id, &limited, signup_id, json!({})).await.status,
        403
    );
    assert_eq!(delete(&id, &limited, signup_id).await.status, 403);
    assert_eq!(
        rotate(&id, &admin, &cid, json!({"grace_period_secs": 604_801}))
            .await
            .status,
        422
    );
    assert_eq!(
        count(&env, "identity.clients WHERE kind = 'tenant_admin'").await,
        2
    );
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action LIKE 'tenant.client.%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_the_grace_period_only() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (_, admin) = tenant(&id, "Rotating").await;
    let (cid, old) = client(&id, &admin, "rotated", &["agents:read"]).await;

    // With a grace period the old secret keeps working, then stops.
    let res = rotate(&id, &admin, &cid, json!({"grace_period_secs": 1})).await;
    let b: Value = res.expect(200);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(b["client_id"], cid.as_str());
    assert_eq!(b["name"], "rotated");
    let new = b["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(b["previous_secret_expires_at"].is_string());
    id.api.token(&cid, &new).await.unwrap();
    id.api.token(&cid, &old).await.unwrap();
    let stopped = eventually(Duration::from_secs(5), || async {
        let r = id.api.token_response(&cid, &old, &[]).await.unwrap();
        (r.status == 401).then_some(())
    })
    .await;
    assert!(
        stopped.is_some(),
        "the old secret outlived its grace period"
    );
    id.api.token(&cid, &new).await.unwrap();

    // Without one, the old secret is refused at once.
    let b: Value = rotate(&id, &admin, &cid, json!({})).await.expect(200);
    let newest = b["client_secret"].as_str().unwrap();
    assert!(b["previous_secret_expires_at"].is_null());
    let r = id.api.token_response(&cid, &new, &[]).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    id.api.token(&cid, newest).await.unwrap();
    // An empty body is a rotation without grace too.
    let r = id
        .api
        .post_empty(&format!("{CLIENTS}/{cid}/rotate"), &admin)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'tenant.client.rotated'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn a_deleted_client_s_tokens_are_refused_at_once() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (_, admin) = tenant(&id, "Deleting").await;
    let (cid, secret) = client(&id, &admin, "leaked", &["admin:tenant", "agents:read"]).await;
    let token = id.api.token(&cid, &secret).await.unwrap();
    id.api
        .http
        .get_auth("/api/v1/agents", &token)
        .await
        .unwrap()
        .expect_status(200);

    let res = delete(&id, &admin, &cid).await;
    assert_eq!(res.status, 204, "{}", res.body);
    // Refused right after the answer: revoked, not waiting for the token to expire.
    for path in ["/api/v1/agents", CLIENTS] {
        let r = id.api.http.get_auth(path, &token).await.unwrap();
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    let r = id.api.token_response(&cid, &secret, &[]).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        list(&id, &admin)
            .await
            .iter()
            .all(|c| c["client_id"] != cid.as_str())
    );
    assert_eq!(delete(&id, &admin, &cid).await.status, 404);
    assert_eq!(rotate(&id, &admin, &cid, json!({})).await.status, 404);
    assert_eq!(delete(&id, &admin, "not a client id").await.status, 404);
    assert_eq!(
        count(
            &env,
            &format!("identity.token_revocations WHERE kind = 'client' AND subject = '{cid}'")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'tenant.client.deleted'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn the_last_admin_client_cannot_be_deleted() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (t, admin) = tenant(&id, "Last").await;

    let res = delete(&id, &admin, &t.client_id).await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.json()["code"], "last_admin_client");
    // A client without admin:tenant does not count.
    let (reader, _) = client(&id, &admin, "reader", &["agents:read"]).await;
    assert_eq!(delete(&id, &admin, &t.client_id).await.status, 409);
    delete(&id, &admin, &reader).await.expect_status(204);

    // Two admins deleting each other at once: one of them stays.
    let (other, other_secret) = client(&id, &admin, "second admin", &all_scopes()).await;
    let other_token = id.api.token(&other, &other_secret).await.unwrap();
    let (a, b) = tokio::join!(
        delete(&id, &admin, &other),
        delete(&id, &other_token, &t.client_id)
    );
    let statuses = [a.status, b.status];
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}: {} / {}",
        a.body,
        b.body
    );
    assert!(
        statuses.iter().all(|s| [204, 401, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        count(
            &env,
            "identity.clients WHERE kind = 'tenant_admin' AND status = 'active'
                AND 'admin:tenant' = ANY(scopes)"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn tenant_admin_reset_makes_a_new_admin_client_audited_as_system() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (t, _) = tenant(&id, "Locked out").await;
    let tenant_id: uuid::Uuid = t.id.parse().unwrap();

    let made = identity::tenant_admin_reset(&id.app.state.config, tenant_id)
        .await
        .unwrap();
    assert_eq!(made["tenant_id"], t.id.as_str());
    assert_eq!(made["scopes"], json!(all_scopes()));
    let token = id
        .api
        .token(
            made["client_id"].as_str().unwrap(),
            made["client_secret"].as_str().unwrap(),
        )
        .await
        .unwrap();
    let listed = list(&id, &token).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["name"], made["name"]);
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'tenant.client.created' AND actor = 'system'"
        )
        .await,
        1
    );
    let unknown = identity::tenant_admin_reset(&id.app.state.config, uuid::Uuid::now_v7()).await;
    assert!(unknown.is_err());
    assert_eq!(
        count(&env, "identity.clients WHERE kind = 'tenant_admin'").await,
        2
    );
}

#[tokio::test]
async fn client_events_reach_webhook_subscribers() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[
            ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8"),
            ("WEBHOOK_POLL_INTERVAL_MS", "20"),
        ],
    )
    .await;
    let (_, admin) = tenant(&id, "Watched").await;
    let rx = Receiver::start(0).await.unwrap();
    let types = [
        "tenant.client.created",
        "tenant.client.rotated",
        "tenant.client.deleted",
    ];
    id.api
        .http
        .post_json(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": rx.url(), "event_types": types}),
        )
        .await
        .unwrap()
        .expect_status(201);
    let (cid, _) = client(&id, &admin, "watched", &["agents:read"]).await;
    rotate(&id, &admin, &cid, json!({}))
        .await
        .expect_status(200);
    delete(&id, &admin, &cid).await.expect_status(204);
    let got = eventually(Duration::from_secs(10), || async {
        let got = rx.received();
        (got.len() >= 3).then_some(got)
    })
    .await
    .expect("three deliveries");
    let mut seen: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .collect();
    seen.sort_by_key(|b| types.iter().position(|t| b["type"] == *t));
    for (body, ty) in seen.iter().zip(types) {
        assert_eq!(body["type"], ty);
        assert_eq!(body["data"]["client_id"], cid.as_str());
        assert!(
            !body.to_string().contains("aidp_sk_"),
            "no secret in {body}"
        );
    }
}

#[tokio::test]
async fn only_admin_clients_holding_tokens_read_revoke_the_tenant_s_tokens() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let (_, admin) = tenant(&id, "Revoking").await;
    let revoke = |cid: String, secret: String, token: String| {
        let http = id.api.http.clone();
        async move {
            http.send(
                http.request(reqwest::Method::POST, "/oauth2/revoke")
                    .basic_auth(cid, Some(secret))
                    .form(&[("token", token)]),
            )
            .await
            .unwrap()
        }
    };
    let (narrow, narrow_secret) = client(&id, &admin, "narrow", &["agents:read"]).await;
    let res = revoke(narrow, narrow_secret, admin.clone()).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "unauthorized_client");
    id.api
        .http
        .get_auth(CLIENTS, &admin)
        .await
        .unwrap()
        .expect_status(200);
    let (wide, wide_secret) = client(&id, &admin, "wide", &["tokens:read"]).await;
    revoke(wide, wide_secret, admin.clone())
        .await
        .expect_status(200);
    let r = id.api.http.get_auth(CLIENTS, &admin).await.unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
}
