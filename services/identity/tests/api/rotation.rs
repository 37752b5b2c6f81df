//! Rotating `KEY_ENCRYPTION_KEY` and `CREDENTIAL_PEPPER` on a running deployment: the new
//! value becomes primary with the old one secondary, `reseal-secrets` moves every sealed
//! value under the new key, credentials are rotated, and the old values can go.

use serde_json::json;
use testkit::TestEnv;

use crate::helpers::{spawn, with, world};

/// testkit's key and pepper: what the deployment starts with.
const OLD_KEK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const OLD_PEPPER: &str = "test-pepper-0123456789abcdef0123456789";
const NEW_KEK: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
const NEW_PEPPER: &str = "rotated-pepper-fedcba9876543210";

#[tokio::test]
async fn the_key_encryption_key_and_the_pepper_rotate_without_downtime() {
    let env = TestEnv::new().await.unwrap();
    let hooks = ("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8");

    // Before: a signing key, an agent's DID key and a webhook secret sealed with the old
    // key; two credentials hashed with the old pepper.
    let id = spawn(&env, &[hooks]).await;
    let w = world(&id, "Rotation").await;
    let hook = id
        .app
        .client
        .post_json(
            "/api/v1/webhooks",
            Some(&w.admin),
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["agent.created"]}),
        )
        .await
        .unwrap();
    assert_eq!(hook.status, 201, "{}", hook.body);
    let hook_id = hook.json()["id"].as_str().unwrap().to_owned();
    let stale = id
        .api
        .create_credential(&w.admin, w.agent_id(), &json!({}))
        .await
        .unwrap();
    id.app.stop().await.unwrap();

    // During: the new values are primary, the old ones secondary.
    let rotating = [
        hooks,
        ("KEY_ENCRYPTION_KEY", NEW_KEK),
        ("KEY_ENCRYPTION_KEY_SECONDARY", OLD_KEK),
        ("CREDENTIAL_PEPPER", NEW_PEPPER),
        ("CREDENTIAL_PEPPER_SECONDARY", OLD_PEPPER),
    ];
    let id = spawn(&env, &rotating).await;
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .expect("a secret hashed with the secondary pepper still authenticates");
    let config = identity::Config::from_env(&with(env.env(), &rotating)).unwrap();
    let report = identity::reseal_secrets(&config).await.unwrap();
    assert!(report.resealed["signing_keys"] >= 1, "{report:?}");
    assert_eq!(report.resealed["agent_keys"], 1, "{report:?}");
    assert_eq!(report.resealed["webhooks"], 1, "{report:?}");
    let rotated = id
        .api
        .http
        .post_json(
            &format!(
                "/api/v1/agents/{}/credentials/{}/rotate",
                w.agent_id(),
                w.cred.id
            ),
            Some(&w.admin),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let secret = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    id.app.stop().await.unwrap();

    // After: the new values alone. Everything sealed opens under the new key (a second
    // re-sealing finds nothing to do), the signing key signs, the rotated credential works
    // and the one never rotated does not.
    let after = [
        hooks,
        ("KEY_ENCRYPTION_KEY", NEW_KEK),
        ("CREDENTIAL_PEPPER", NEW_PEPPER),
    ];
    let config = identity::Config::from_env(&with(env.env(), &after)).unwrap();
    let again = identity::reseal_secrets(&config).await.unwrap();
    assert!(again.resealed.values().all(|n| *n == 0), "{again:?}");
    assert!(again.unchanged >= 3, "{again:?}");
    let id = spawn(&env, &after).await;
    id.api
        .token(&w.cred.client_id, &secret)
        .await
        .expect("the rotated credential authenticates");
    let old = id
        .api
        .token_response(&stale.client_id, &stale.client_secret, &[])
        .await
        .unwrap();
    assert_eq!(old.status, 401, "{}", old.body);
    let admin = id
        .api
        .token(&w.tenant.client_id, &w.tenant.client_secret)
        .await;
    assert!(
        admin.is_err(),
        "the signup secret was hashed with the old pepper"
    );
    let hook = id
        .app
        .client
        .get_auth(&format!("/api/v1/webhooks/{hook_id}"), &w.admin)
        .await
        .unwrap();
    assert_eq!(hook.status, 200, "{}", hook.body);
}
