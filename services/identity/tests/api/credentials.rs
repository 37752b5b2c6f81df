//! Credentials: creation, listing, rotation with grace, expiry, revocation.

use std::time::Duration;

use serde_json::json;
use testkit::{TestEnv, eventually};

use crate::helpers::{spawn, world};

#[tokio::test]
async fn credentials_are_shown_once_and_listed_without_secrets() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Creds").await;
    let aid = w.agent_id();
    let res = id
        .api
        .http
        .post_json(
            &format!("/api/v1/agents/{aid}/credentials"),
            Some(&w.admin),
            &json!({"scopes": ["documents:read"], "expires_in_secs": 3600}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let c = res.json();
    assert_eq!(c["scopes"], json!(["documents:read"]));
    assert!(c["expires_at"].is_string());
    let secret = c["client_secret"].as_str().unwrap();
    let list = id
        .api
        .http
        .get_auth(&format!("/api/v1/agents/{aid}/credentials"), &w.admin)
        .await
        .unwrap();
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(secret));
    let items = list.json()["data"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    for item in &items {
        assert!(item.get("client_secret").is_none(), "{item}");
        assert_eq!(item["type"], "client_secret");
    }

    // The restricted credential gets only its scopes; asking for more is invalid_scope.
    let cid = c["client_id"].as_str().unwrap();
    let ok = id.api.token_response(cid, secret, &[]).await.unwrap();
    assert_eq!(ok.json()["scope"], "documents:read");
    let wider = id
        .api
        .token_response(cid, secret, &[("scope", "agents:read")])
        .await
        .unwrap();
    assert_eq!(wider.status, 400);
    assert_eq!(wider.json()["error"], "invalid_scope");
}

#[tokio::test]
async fn bad_credential_requests_are_422_and_store_nothing() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "BadCreds").await;
    let path = format!("/api/v1/agents/{}/credentials", w.agent_id());
    for (body, field) in [
        (json!({"scopes": ["billing:write"]}), "scopes[0]"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"expires_in_secs": 0}), "expires_in_secs"),
        (
            json!({"expires_in_secs": 60, "expires_at": "2999-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (json!({"secret": "mine"}), "secret"),
    ] {
        let res = id
            .api
            .http
            .post_json(&path, Some(&w.admin), &body)
            .await
            .unwrap();
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert_eq!(res.json()["errors"][0]["field"], field, "{body}");
    }
    let list = id.api.http.get_auth(&path, &w.admin).await.unwrap().json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let rotate = id
        .api
        .http
        .post_json(
            &format!("{path}/{}/rotate", w.cred.id),
            Some(&w.admin),
            &json!({"grace_period_secs": 999_999}),
        )
        .await
        .unwrap();
    assert_eq!(rotate.status, 422);
}

#[tokio::test]
async fn rotation_grace_works_and_ends() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Rotate").await;
    let path = format!(
        "/api/v1/agents/{}/credentials/{}/rotate",
        w.agent_id(),
        w.cred.id
    );

    // Without grace the old secret stops at once.
    let res = id
        .api
        .http
        .post_json(&path, Some(&w.admin), &json!({}))
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let s1 = res.json()["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(s1, w.cred.client_secret);
    assert_eq!(
        id.api
            .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
            .await
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        id.api
            .token_response(&w.cred.client_id, &s1, &[])
            .await
            .unwrap()
            .status,
        200
    );

    // With a grace period both work, then only the new one.
    let res = id
        .api
        .http
        .post_json(&path, Some(&w.admin), &json!({"grace_period_secs": 2}))
        .await
        .unwrap();
    let s2 = res.json()["client_secret"].as_str().unwrap().to_owned();
    assert!(res.json()["previous_secret_expires_at"].is_string());
    assert_eq!(
        id.api
            .token_response(&w.cred.client_id, &s1, &[])
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        id.api
            .token_response(&w.cred.client_id, &s2, &[])
            .await
            .unwrap()
            .status,
        200
    );
    let ended = eventually(Duration::from_secs(6), || async {
        let r = id
            .api
            .token_response(&w.cred.client_id, &s1, &[])
            .await
            .ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(ended.is_some(), "the grace period never ended");
    assert_eq!(
        id.api
            .token_response(&w.cred.client_id, &s2, &[])
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn an_expired_credential_cannot_get_tokens() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Expiry").await;
    let c = id
        .api
        .create_credential(&w.admin, w.agent_id(), &json!({"expires_in_secs": 1}))
        .await
        .unwrap();
    assert_eq!(
        id.api
            .token_response(&c.client_id, &c.client_secret, &[])
            .await
            .unwrap()
            .status,
        200
    );
    let refused = eventually(Duration::from_secs(5), || async {
        let r = id
            .api
            .token_response(&c.client_id, &c.client_secret, &[])
            .await
            .ok()?;
        (r.status == 401).then_some(r)
    })
    .await
    .expect("an expired credential keeps working");
    assert_eq!(refused.json()["error"], "invalid_client");
    let reasons = {
        let db = env.db.client().await.unwrap();
        db.query(
            "SELECT details->>'reason' FROM identity.audit_events WHERE action = 'token.refused'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
    };
    assert!(
        reasons.contains(&"credential_expired".to_owned()),
        "{reasons:?}"
    );
}
