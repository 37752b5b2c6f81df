//! Delegation between agents (RFC 8693 `act`): standing grants, chains, narrowing, and
//! revocation of every derived token on every instance.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::identity::{Credential, agent_body};
use testkit::{TestEnv, TestResponse, eventually};

use crate::federation::EXCHANGE;
use crate::helpers::{Identity, World, claims_of, count, spawn, world};

const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Another agent of `w`'s tenant and a credential of it.
async fn agent(id: &Identity, w: &World, name: &str) -> (String, Credential) {
    let a = id
        .api
        .create_agent(&w.admin, &agent_body(name, json!({})))
        .await
        .unwrap();
    let aid = a["id"].as_str().unwrap().to_owned();
    let cred = id
        .api
        .create_credential(&w.admin, &aid, &json!({}))
        .await
        .unwrap();
    (aid, cred)
}

/// `POST /api/v1/agents/{from}/delegations` with `token`.
async fn grant(id: &Identity, token: &str, from: &str, body: &Value) -> TestResponse {
    id.api
        .http
        .post_json(
            &format!("/api/v1/agents/{from}/delegations"),
            Some(token),
            body,
        )
        .await
        .unwrap()
}

/// `actor` exchanges `subject` with `extra` fields.
async fn exchange(
    id: &Identity,
    actor: &Credential,
    subject: &str,
    extra: &[(&str, &str)],
) -> TestResponse {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    form.extend_from_slice(extra);
    id.api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, "/oauth2/token")
                .basic_auth(&actor.client_id, Some(&actor.client_secret))
                .form(&form),
        )
        .await
        .unwrap()
}

fn refused(res: &TestResponse, error: &str, what: &str) {
    assert_eq!(res.status, 400, "{what}: {}", res.body);
    assert_eq!(res.json()["error"], error, "{what}: {}", res.body);
}

fn token(res: &TestResponse) -> String {
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chains_nest_act_to_their_depth_and_no_further() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Chain").await;
    let (b, b_cred) = agent(&id, &w, "Chain B").await;
    let (c, c_cred) = agent(&id, &w, "Chain C").await;
    let (d, d_cred) = agent(&id, &w, "Chain D").await;
    let all = json!(["agents:read", "documents:read"]);
    let res = grant(
        &id,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": b, "scopes": all, "max_depth": 2}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        grant(
            &id,
            &w.admin,
            &b,
            &json!({"actor_agent_id": c, "scopes": all, "max_depth": 3})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        grant(
            &id,
            &w.admin,
            &c,
            &json!({"actor_agent_id": d, "scopes": all, "max_depth": 3})
        )
        .await
        .status,
        201
    );

    let a_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let first = exchange(&id, &b_cred, &a_token, &[]).await;
    assert_eq!(
        first.json()["issued_token_type"],
        ACCESS_TOKEN,
        "{}",
        first.body
    );
    let one = token(&first);
    let c1 = claims_of(&one);
    assert_eq!(c1["sub"], w.agent_id());
    assert_eq!(c1["act"], json!({"sub": b}));
    assert_eq!(c1["client_id"], b_cred.client_id);
    assert_eq!(c1["scope"], "agents:read documents:read");
    assert!(c1["exp"].as_i64().unwrap() <= claims_of(&a_token)["exp"].as_i64().unwrap());

    // C acts for A through B: act nests; scopes narrow on request.
    let two = token(&exchange(&id, &c_cred, &one, &[("scope", "documents:read")]).await);
    let c2 = claims_of(&two);
    assert_eq!(c2["sub"], w.agent_id());
    assert_eq!(c2["act"], json!({"sub": c, "act": {"sub": b}}));
    assert_eq!(c2["scope"], "documents:read");
    assert_eq!(c2["dlg"].as_array().unwrap().len(), 2);
    // A third actor would exceed the first grant's max_depth of 2.
    refused(
        &exchange(&id, &d_cred, &two, &[]).await,
        "invalid_grant",
        "depth 3",
    );
    // Widening back is refused.
    refused(
        &exchange(&id, &d_cred, &two, &[("scope", "agents:read")]).await,
        "invalid_scope",
        "widening",
    );

    // Introspection shows the chain.
    let intro = id
        .api
        .introspect(&c_cred.client_id, &c_cred.client_secret, &two)
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["act"], json!({"sub": c, "act": {"sub": b}}));
    assert_eq!(count(&env, "identity.audit_events WHERE action = 'token.exchanged' AND details->>'kind' = 'delegated'").await, 2);
    assert_eq!(
        count(
            &env,
            "identity.audit_events WHERE action = 'delegation.created'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn exchanges_beyond_a_grant_or_across_tenants_are_refused() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Bounds").await;
    let (b, b_cred) = agent(&id, &w, "Bounds B").await;
    let other = world(&id, "Bounds other").await;
    let a_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();

    refused(
        &exchange(&id, &b_cred, &a_token, &[]).await,
        "invalid_grant",
        "no grant",
    );
    let res = grant(
        &id,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": b, "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["max_depth"], 1);
    refused(
        &exchange(&id, &b_cred, &a_token, &[("scope", "agents:read")]).await,
        "invalid_scope",
        "beyond the grant",
    );
    refused(
        &exchange(&id, &b_cred, "not-a-token", &[]).await,
        "invalid_grant",
        "garbage subject",
    );
    // Another tenant's agent can neither be granted nor exchange.
    let res = grant(
        &id,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": other.agent_id(), "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    refused(
        &exchange(&id, &other.cred, &a_token, &[]).await,
        "invalid_grant",
        "cross tenant",
    );
    // A tenant-admin client is no agent to act.
    let admin = Credential {
        id: String::new(),
        client_id: w.tenant.client_id.clone(),
        client_secret: w.tenant.client_secret.clone(),
    };
    refused(
        &exchange(&id, &admin, &a_token, &[]).await,
        "invalid_grant",
        "admin client",
    );
    // A grant beyond the delegator's capabilities, or to itself, stores nothing.
    for body in [
        json!({"actor_agent_id": b, "scopes": ["billing:read"]}),
        json!({"actor_agent_id": w.agent_id(), "scopes": ["documents:read"]}),
        json!({"actor_agent_id": b, "scopes": ["documents:read"], "max_depth": 9}),
        json!({"actor_agent_id": b, "scopes": ["documents:read"], "expires_at": "2020-01-01T00:00:00Z"}),
    ] {
        assert_eq!(
            grant(&id, &w.admin, w.agent_id(), &body).await.status,
            422,
            "{body}"
        );
    }
    assert_eq!(count(&env, "identity.agent_delegations").await, 1);
    let ok = token(&exchange(&id, &b_cred, &a_token, &[]).await);
    assert_eq!(claims_of(&ok)["scope"], "documents:read");
}

#[tokio::test]
async fn an_agent_grants_its_own_delegations_and_an_actor_cannot() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Self").await;
    let (b, b_cred) = agent(&id, &w, "Self B").await;
    let (c, _) = agent(&id, &w, "Self C").await;
    let a_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    // agents:read is a platform scope: only a tenant admin may pass it on.
    let res = grant(
        &id,
        &a_token,
        w.agent_id(),
        &json!({"actor_agent_id": b, "scopes": ["agents:read"]}),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let res = grant(
        &id,
        &a_token,
        w.agent_id(),
        &json!({"actor_agent_id": b, "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let derived = token(&exchange(&id, &b_cred, &a_token, &[]).await);
    // B acting for A is not A: it cannot grant A's delegations.
    let res = grant(
        &id,
        &derived,
        w.agent_id(),
        &json!({"actor_agent_id": c, "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    // Nor can an agent manage another agent's.
    let b_token = id
        .api
        .token(&b_cred.client_id, &b_cred.client_secret)
        .await
        .unwrap();
    let res = grant(
        &id,
        &b_token,
        w.agent_id(),
        &json!({"actor_agent_id": c, "scopes": ["documents:read"]}),
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let list = id
        .api
        .http
        .get_auth(
            &format!("/api/v1/agents/{}/delegations", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(
        list.json()["data"].as_array().unwrap().len(),
        1,
        "{}",
        list.body
    );
}

/// Waits (at most 1 s) until `token` is refused by `other`'s API and introspection.
async fn ends_within_a_second(other: &Identity, token: &str, introspector: &Credential) {
    let done = eventually(Duration::from_secs(1), || async {
        let r = other
            .api
            .http
            .get_auth("/api/v1/agents", token)
            .await
            .ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(done.is_some(), "derived token still accepted after 1 s");
    let intro = other
        .api
        .introspect(&introspector.client_id, &introspector.client_secret, token)
        .await
        .unwrap();
    assert_eq!(intro["active"], false, "{intro}");
}

#[tokio::test]
async fn withdrawing_the_grant_revoking_the_subject_or_suspending_an_agent_ends_derived_tokens() {
    let env = TestEnv::new().await.unwrap();
    let a = spawn(&env, &[]).await;
    let b = spawn(&env, &[]).await;
    let w = world(&a, "Ends").await;
    let (actor, actor_cred) = agent(&a, &w, "Ends actor").await;
    let all = json!(["agents:read", "documents:read"]);
    let g = grant(
        &a,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": actor, "scopes": all}),
    )
    .await;
    let gid = g.json()["id"].as_str().unwrap().to_owned();
    let subject = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();

    // 1. The grant is withdrawn.
    let derived = token(&exchange(&a, &actor_cred, &subject, &[]).await);
    assert_eq!(
        b.api
            .http
            .get_auth("/api/v1/agents", &derived)
            .await
            .unwrap()
            .status,
        200
    );
    let del = a
        .api
        .delete(
            &format!("/api/v1/agents/{}/delegations/{gid}", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(del.status, 204);
    ends_within_a_second(&b, &derived, &actor_cred).await;
    refused(
        &exchange(&b, &actor_cred, &subject, &[]).await,
        "invalid_grant",
        "after withdrawal",
    );

    // 2. The subject token is revoked.
    let g = grant(
        &a,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": actor, "scopes": all}),
    )
    .await;
    assert_eq!(g.status, 201);
    let derived = token(&exchange(&a, &actor_cred, &subject, &[]).await);
    let rev = a
        .api
        .http
        .send(
            a.api
                .http
                .request(reqwest::Method::POST, "/oauth2/revoke")
                .basic_auth(&w.cred.client_id, Some(&w.cred.client_secret))
                .form(&[("token", subject.as_str())]),
        )
        .await
        .unwrap();
    assert_eq!(rev.status, 200);
    ends_within_a_second(&b, &derived, &actor_cred).await;

    // 3. The actor is suspended.
    let subject = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let derived = token(&exchange(&a, &actor_cred, &subject, &[]).await);
    let res = a
        .api
        .post_empty(&format!("/api/v1/agents/{actor}/suspend"), &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let done = eventually(Duration::from_secs(1), || async {
        let r = b.api.http.get_auth("/api/v1/agents", &derived).await.ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "a suspended actor's derived token still works"
    );
    // The delegator itself keeps working.
    assert_eq!(
        b.api
            .http
            .get_auth("/api/v1/agents", &subject)
            .await
            .unwrap()
            .status,
        200
    );

    // 4. The delegator is suspended.
    let (other, other_cred) = agent(&a, &w, "Ends second actor").await;
    let g = grant(
        &a,
        &w.admin,
        w.agent_id(),
        &json!({"actor_agent_id": other, "scopes": all}),
    )
    .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let derived = token(&exchange(&a, &other_cred, &subject, &[]).await);
    assert_eq!(
        b.api
            .http
            .get_auth("/api/v1/agents", &derived)
            .await
            .unwrap()
            .status,
        200
    );
    let res = a
        .api
        .post_empty(
            &format!("/api/v1/agents/{}/suspend", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    ends_within_a_second(&b, &derived, &other_cred).await;
}
