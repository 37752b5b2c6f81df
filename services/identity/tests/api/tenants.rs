//! `/api/v1/tenants`.

use serde_json::json;
use testkit::TestEnv;

use crate::helpers::{count, spawn};

#[tokio::test]
async fn signup_returns_the_admin_client_once_and_it_works() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let res = id
        .api
        .http
        .post_json(
            "/api/v1/tenants",
            None,
            &json!({"name": "Acme", "email": "ops@acme.example"}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let b = res.json();
    assert_eq!(b["tenant"]["name"], "Acme");
    assert_eq!(b["tenant"]["status"], "active");
    let secret = b["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "at least 256 bits");
    assert_eq!(b["scopes"].as_array().unwrap().len(), 11);
    // The secret is stored only as an HMAC.
    let c = env.db.client().await.unwrap();
    let stored: Vec<u8> = c
        .query_one(
            "SELECT secret_hash FROM identity.clients WHERE client_id = $1",
            &[&b["client_id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(secret));

    let token = id
        .api
        .token(b["client_id"].as_str().unwrap(), secret)
        .await
        .unwrap();
    let me = id
        .api
        .http
        .get_auth("/api/v1/tenants/me", &token)
        .await
        .unwrap();
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["email"], "ops@acme.example");
    let by_id = id
        .api
        .http
        .get_auth(
            &format!("/api/v1/tenants/{}", b["tenant"]["id"].as_str().unwrap()),
            &token,
        )
        .await
        .unwrap();
    assert_eq!(by_id.status, 200);
    // The signup is audited.
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'tenant.created'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_signups_name_the_field_and_store_nothing() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let cases = [
        (json!({"name": "", "email": "a@b.example"}), 422, "name"),
        (json!({"name": "A", "email": "not-an-email"}), 422, "email"),
        (json!({"email": "a@b.example"}), 422, "name"),
        (
            json!({"name": "A", "email": "a@b.example", "tier": "pro"}),
            422,
            "tier",
        ),
        (json!({"name": 5, "email": "a@b.example"}), 422, "name"),
    ];
    for (body, status, field) in cases {
        let res = id
            .api
            .http
            .post_json("/api/v1/tenants", None, &body)
            .await
            .unwrap();
        assert_eq!(res.status, status, "{body}: {}", res.body);
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let fields: Vec<String> = res.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert!(fields.contains(&field.to_owned()), "{body}: {fields:?}");
    }
    let malformed = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/api/v1/tenants")
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await
        .unwrap();
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["code"], "malformed_body");
    let wrong_type = id
        .api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/api/v1/tenants")
                .body("name=x"),
        )
        .await
        .unwrap();
    assert_eq!(wrong_type.status, 415);
    assert_eq!(count(&env, "identity.tenants").await, 0);
    assert_eq!(count(&env, "identity.clients").await, 0);
}

#[tokio::test]
async fn tenants_see_and_change_only_themselves() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let a = id.api.signup("Alpha").await.unwrap();
    let b = id.api.signup("Beta").await.unwrap();
    let ta = id.api.admin_token(&a).await.unwrap();
    let other = id
        .api
        .http
        .get_auth(&format!("/api/v1/tenants/{}", b.id), &ta)
        .await
        .unwrap();
    assert_eq!(other.status, 404);
    let patch = id
        .api
        .patch(
            &format!("/api/v1/tenants/{}", b.id),
            &ta,
            &json!({"name": "Hijacked"}),
        )
        .await
        .unwrap();
    assert_eq!(patch.status, 404);
    let own = id
        .api
        .patch("/api/v1/tenants/me", &ta, &json!({"name": "Alpha Corp"}))
        .await
        .unwrap();
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json()["name"], "Alpha Corp");
    let empty = id
        .api
        .patch("/api/v1/tenants/me", &ta, &json!({}))
        .await
        .unwrap();
    assert_eq!(empty.status, 422);
    let c = env.db.client().await.unwrap();
    let name: String = c
        .query_one(
            "SELECT name FROM identity.tenants WHERE id = $1::text::uuid",
            &[&b.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Beta");
    // Unauthenticated.
    assert_eq!(
        id.api.http.get("/api/v1/tenants/me").await.unwrap().status,
        401
    );
}
