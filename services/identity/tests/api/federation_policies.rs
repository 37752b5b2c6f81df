//! Trust policies: their rules, tenants kept apart by audience, several agents' policies
//! matching one token.

use serde_json::json;
use testkit::TestEnv;
use testkit::oidc::{FakeIssuer, github_claims, now};

use crate::federation::{create_policy, exchange, github_policy, spawn_federated};
use crate::helpers::{claims_of, count, world};

const REPO: &str = "octo-org/octo-repo";
const MAIN: &str = "refs/heads/main";

fn invalid_grant(res: &testkit::TestResponse, what: &str) {
    assert_eq!(res.status, 400, "{what}: {}", res.body);
    assert_eq!(res.json()["error"], "invalid_grant", "{what}: {}", res.body);
}

#[tokio::test]
async fn two_tenants_on_one_repository_never_get_each_other_s_tokens() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let a = world(&id, "Fed tenant A").await;
    let b = world(&id, "Fed tenant B").await;
    let gh = FakeIssuer::start().await.unwrap();
    let pa = github_policy(&id, &a, gh.issuer(), json!({"repository": REPO})).await;
    let pb = github_policy(&id, &b, gh.issuer(), json!({"repository": REPO})).await;
    for (w, p) in [(&a, &pa), (&b, &pb)] {
        let t = gh.sign(&github_claims(
            gh.issuer(),
            p["audience"].as_str().unwrap(),
            REPO,
            MAIN,
        ));
        let res = exchange(&id, &t, &[]).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let c = claims_of(res.json()["access_token"].as_str().unwrap());
        assert_eq!(c["sub"], w.agent_id());
        assert_eq!(c["tenant_id"], w.tenant.id);
    }
    // A token for both audiences matches one tenant's policies only.
    let mut both = github_claims(gh.issuer(), "x", REPO, MAIN);
    both["aud"] = json!([pa["audience"], pb["audience"]]);
    let res = exchange(&id, &gh.sign(&both), &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        claims_of(res.json()["access_token"].as_str().unwrap())["tenant_id"],
        a.tenant.id
    );
    // B cannot take A's audience, explicit or default.
    let custom = create_policy(&id, &a, &json!({"name": "Custom", "provider": "github_actions", "issuer": gh.issuer(), "audience": "agentidp-ci", "agent_id": a.agent_id(), "conditions": {"repository": REPO}})).await;
    assert_eq!(custom.status, 201, "{}", custom.body);
    let taken = create_policy(&id, &b, &json!({"name": "Steal", "provider": "github_actions", "issuer": gh.issuer(), "audience": "agentidp-ci", "agent_id": b.agent_id(), "conditions": {"repository": REPO}})).await;
    assert_eq!(taken.status, 409, "{}", taken.body);
    assert_eq!(taken.json()["code"], "audience_taken", "{}", taken.body);
    let default_of_a = create_policy(&id, &b, &json!({"name": "Steal", "provider": "github_actions", "issuer": gh.issuer(), "audience": pa["audience"], "agent_id": b.agent_id(), "conditions": {"repository": REPO}})).await;
    assert_eq!(default_of_a.status, 422, "{}", default_of_a.body);
    assert_eq!(count(&env, "identity.trust_policies").await, 3);
}

#[tokio::test]
async fn policies_are_validated_scoped_and_disambiguated() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn_federated(&env).await;
    let w = world(&id, "Fed rules").await;
    let gh = FakeIssuer::start().await.unwrap();
    for (body, field) in [
        (
            json!({"name": "x", "provider": "github_actions", "agent_id": w.agent_id(), "conditions": {"ref": MAIN}}),
            "conditions",
        ),
        (
            json!({"name": "x", "provider": "oidc", "agent_id": w.agent_id(), "conditions": {"sub": "a"}}),
            "issuer",
        ),
        (
            json!({"name": "x", "provider": "oidc", "issuer": "http://203.0.113.9", "agent_id": w.agent_id(), "conditions": {"sub": "a"}}),
            "issuer",
        ),
        (
            json!({"name": "x", "provider": "oidc", "issuer": gh.issuer(), "agent_id": w.agent_id(), "conditions": {}}),
            "conditions",
        ),
        (
            json!({"name": "x", "provider": "github_actions", "agent_id": w.agent_id(), "scopes": ["billing:read"], "conditions": {"repository": REPO}}),
            "scopes[0]",
        ),
        (
            json!({"name": "x", "provider": "github_actions", "agent_id": w.agent_id(), "token_ttl_seconds": 5, "conditions": {"repository": REPO}}),
            "token_ttl_seconds",
        ),
    ] {
        let res = create_policy(&id, &w, &body).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(res.body.contains(field), "{field}: {}", res.body);
    }
    assert_eq!(count(&env, "identity.trust_policies").await, 0);
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action LIKE 'federation.%'"
        )
        .await,
        0
    );

    // An oidc policy on `sub`, then a second agent's policy matching the same tokens.
    let p1 = create_policy(&id, &w, &json!({"name": "svc", "provider": "oidc", "issuer": gh.issuer(), "audience": "svc-aud", "agent_id": w.agent_id(), "scopes": ["agents:read"], "conditions": {"sub": "workload-7"}, "token_ttl_seconds": 120})).await;
    assert_eq!(p1.status, 201, "{}", p1.body);
    let token = |sub: &str| {
        gh.sign(&json!({"iss": gh.issuer(), "sub": sub, "aud": "svc-aud", "exp": now() + 60, "iat": now(), "jti": uuid::Uuid::new_v4().to_string()}))
    };
    let res = exchange(&id, &token("workload-7"), &[]).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["expires_in"], 120);
    invalid_grant(&exchange(&id, &token("workload-8"), &[]).await, "other sub");
    let other = id
        .api
        .create_agent(
            &w.admin,
            &testkit::identity::agent_body("Second", json!({})),
        )
        .await
        .unwrap();
    let p2 = create_policy(&id, &w, &json!({"name": "svc2", "provider": "oidc", "issuer": gh.issuer(), "audience": "svc-aud", "agent_id": other["id"], "conditions": {"sub": "workload-7"}})).await;
    assert_eq!(p2.status, 201, "{}", p2.body);
    let res = exchange(&id, &token("workload-7"), &[]).await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.json()["error"], "invalid_request");
    let res = exchange(
        &id,
        &token("workload-7"),
        &[("agent_id", other["id"].as_str().unwrap())],
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        claims_of(res.json()["access_token"].as_str().unwrap())["sub"],
        other["id"]
    );

    // Read, change, delete.
    let path = format!(
        "/api/v1/federation/trust-policies/{}",
        p1.json()["id"].as_str().unwrap()
    );
    let got = id.api.http.get_auth(&path, &w.admin).await.unwrap();
    assert_eq!(got.json()["conditions"], json!({"sub": "workload-7"}));
    let list = id
        .api
        .http
        .get_auth("/api/v1/federation/trust-policies?limit=1", &w.admin)
        .await
        .unwrap();
    assert_eq!(
        list.json()["data"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
    let patched = id
        .api
        .patch(
            &path,
            &w.admin,
            &json!({"conditions": {"sub": "workload-9"}}),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200, "{}", patched.body);
    let del = id.api.delete(&path, &w.admin).await.unwrap();
    assert_eq!(del.status, 204);
    assert_eq!(
        id.api.http.get_auth(&path, &w.admin).await.unwrap().status,
        404
    );
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action LIKE 'federation.policy.%'"
        )
        .await,
        4
    );
}
