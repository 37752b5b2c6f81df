//! DPoP (RFC 9449): tokens bound to a key at the token endpoint, and every use of them
//! proving possession of that key.

use serde_json::json;
use testkit::jws::{EcKey, now};
use testkit::{TestEnv, TestResponse};

use crate::helpers::{Identity, World, claims_of, spawn, world};

/// A token request of `w`'s credential with `DPoP: proof`.
async fn bound_token(id: &Identity, w: &World, proof: Option<&str>) -> TestResponse {
    let mut req = id
        .api
        .http
        .request(reqwest::Method::POST, "/oauth2/token")
        .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    id.api.http.send(req).await.unwrap()
}

/// `GET /api/v1/agents` with `Authorization: <scheme> token` and an optional proof.
async fn call(id: &Identity, scheme: &str, token: &str, proof: Option<&str>) -> TestResponse {
    let mut req = id
        .api
        .http
        .request(reqwest::Method::GET, "/api/v1/agents")
        .header("Authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    id.api.http.send(req).await.unwrap()
}

#[tokio::test]
async fn a_dpop_bound_token_works_only_with_fresh_proofs_of_its_key() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "DPoP").await;
    let key = EcKey::generate("dpop");
    let token_url = format!("{}/oauth2/token", id.app.base_url);
    let res = bound_token(&id, &w, Some(&key.dpop("POST", &token_url, None))).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["token_type"], "DPoP");
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let jkt = claims_of(&token)["cnf"]["jkt"].as_str().unwrap().to_owned();
    assert_eq!(jkt.len(), 43);

    let url = format!("{}/api/v1/agents", id.app.base_url);
    let proof = key.dpop("GET", &url, Some(&token));
    assert_eq!(call(&id, "DPoP", &token, Some(&proof)).await.status, 200);
    // Also under PUBLIC_URL's name for the same path.
    assert_eq!(
        call(
            &id,
            "DPoP",
            &token,
            Some(&key.dpop("GET", "http://localhost:8080/api/v1/agents", Some(&token)))
        )
        .await
        .status,
        200
    );

    let other = EcKey::generate("other");
    for (what, scheme, proof) in [
        ("replayed proof", "DPoP", Some(proof.clone())),
        ("Bearer downgrade", "Bearer", None),
        ("no proof", "DPoP", None),
        (
            "wrong htu",
            "DPoP",
            Some(key.dpop(
                "GET",
                &format!("{}/api/v1/audit", id.app.base_url),
                Some(&token),
            )),
        ),
        (
            "wrong htm",
            "DPoP",
            Some(key.dpop("POST", &url, Some(&token))),
        ),
        (
            "stale iat",
            "DPoP",
            Some(key.dpop_at("GET", &url, Some(&token), now() - 600)),
        ),
        ("no ath", "DPoP", Some(key.dpop("GET", &url, None))),
        (
            "wrong ath",
            "DPoP",
            Some(key.dpop("GET", &url, Some("another-token"))),
        ),
        (
            "another key",
            "DPoP",
            Some(other.dpop("GET", &url, Some(&token))),
        ),
    ] {
        let res = call(&id, scheme, &token, proof.as_deref()).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
        let challenge = res
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(challenge.starts_with("DPoP error="), "{what}: {challenge}");
    }
    // An unbound token is refused under the DPoP scheme.
    let plain = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    assert_eq!(
        call(
            &id,
            "DPoP",
            &plain,
            Some(&key.dpop("GET", &url, Some(&plain)))
        )
        .await
        .status,
        401
    );
    assert_eq!(call(&id, "Bearer", &plain, None).await.status, 200);

    // Introspection shows the binding.
    let intro = id
        .api
        .introspect(&w.cred.client_id, &w.cred.client_secret, &token)
        .await
        .unwrap();
    assert_eq!(intro["cnf"], json!({"jkt": jkt}));
    assert_eq!(intro["token_type"], "DPoP");

    // Bad proofs at the token endpoint.
    for (what, proof) in [
        (
            "wrong htu",
            key.dpop("POST", "https://elsewhere.example/oauth2/token", None),
        ),
        ("stale", key.dpop_at("POST", &token_url, None, now() - 600)),
        ("not a proof", "abc".to_owned()),
    ] {
        let res = bound_token(&id, &w, Some(&proof)).await;
        assert_eq!(res.status, 400, "{what}: {}", res.body);
        assert_eq!(res.json()["error"], "invalid_dpop_proof", "{what}");
    }
}

#[tokio::test]
async fn a_credential_can_require_dpop() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "DPoP required").await;
    let path = format!("/api/v1/agents/{}/credentials/{}", w.agent_id(), w.cred.id);
    let res = id
        .api
        .patch(&path, &w.admin, &json!({"dpop_bound": true}))
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["dpop_bound"], true);
    let res = bound_token(&id, &w, None).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "invalid_dpop_proof");
    let key = EcKey::generate("k");
    let proof = key.dpop("POST", &format!("{}/oauth2/token", id.app.base_url), None);
    assert_eq!(
        bound_token(&id, &w, Some(&proof)).await.json()["token_type"],
        "DPoP"
    );
}

#[tokio::test]
async fn server_nonces_when_switched_on() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[("DPOP_NONCE_SECRET", "a-secret-shared-by-every-instance")],
    )
    .await;
    let w = world(&id, "DPoP nonce").await;
    let key = EcKey::generate("k");
    let token_url = format!("{}/oauth2/token", id.app.base_url);
    let res = bound_token(&id, &w, Some(&key.dpop("POST", &token_url, None))).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "use_dpop_nonce");
    let nonce = res
        .headers
        .get("dpop-nonce")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let res = bound_token(
        &id,
        &w,
        Some(&key.dpop_nonce("POST", &token_url, None, &nonce)),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/api/v1/agents", id.app.base_url);
    let res = call(
        &id,
        "DPoP",
        &token,
        Some(&key.dpop("GET", &url, Some(&token))),
    )
    .await;
    assert_eq!(res.status, 401);
    let challenge = res
        .headers
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(challenge.contains("use_dpop_nonce"), "{challenge}");
    assert_eq!(
        res.headers.get("dpop-nonce").unwrap().to_str().unwrap(),
        nonce
    );
    let bad = call(
        &id,
        "DPoP",
        &token,
        Some(&key.dpop_nonce("GET", &url, Some(&token), "forged")),
    )
    .await;
    assert_eq!(bad.status, 401);
    let ok = call(
        &id,
        "DPoP",
        &token,
        Some(&key.dpop_nonce("GET", &url, Some(&token), &nonce)),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}
