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
        let fields = res.error_fields();
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

/// `POST /api/v1/tenants` from the local address `from`.
async fn signup_from(
    base: &str,
    from: &str,
    body: &serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    let http = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}/api/v1/tenants"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, res.json().await.unwrap_or_default())
}

fn signup_body(i: usize) -> serde_json::Value {
    json!({"name": format!("Tenant {i}"), "email": format!("t{i}@example.com")})
}

#[tokio::test]
async fn signups_are_limited_per_address() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    // Counted in Redis, shared by every instance, once the connection is up.
    let redis = &id.app.state.core.redis;
    testkit::eventually(std::time::Duration::from_secs(5), || async {
        redis.ping().await.ok()
    })
    .await
    .expect("redis is up");
    let base = &id.app.base_url;
    for i in 0..10 {
        let (status, _, body) = signup_from(base, "127.0.0.1", &signup_body(i)).await;
        assert_eq!(status, 201, "signup {i}: {body}");
    }
    let (status, retry, body) = signup_from(base, "127.0.0.1", &signup_body(10)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["limit"], "signup_ip");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    // The window slides in tenths: the oldest signup leaves it within 1.1 h.
    assert!((1..=3960).contains(&retry), "{retry}");
    // Another address still signs up.
    let (status, _, body) = signup_from(base, "127.0.0.2", &signup_body(11)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(count(&env, "identity.tenants").await, 11);
}

#[tokio::test]
async fn invitation_codes_gate_signup_when_configured() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[(
            "SIGNUP_INVITATION_CODES",
            "first-invite-2f8a, second-invite-91c3",
        )],
    )
    .await;
    let base = &id.app.base_url;
    let mut body = signup_body(0);
    let (status, _, problem) = signup_from(base, "127.0.0.1", &body).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "invitation_required");
    for wrong in [
        "",
        "first-invite",
        "first-invite-2f8a ",
        "SECOND-INVITE-91C3",
    ] {
        body["invitation_code"] = wrong.into();
        let (status, _, problem) = signup_from(base, "127.0.0.1", &body).await;
        assert_eq!(status, 403, "{wrong:?}: {problem}");
        assert_eq!(problem["code"], "invitation_invalid", "{wrong:?}");
    }
    assert_eq!(count(&env, "identity.tenants").await, 0);
    assert_eq!(count(&env, "identity.clients").await, 0);
    body["invitation_code"] = "second-invite-91c3".into();
    let (status, _, created) = signup_from(base, "127.0.0.1", &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(count(&env, "identity.tenants").await, 1);
}
