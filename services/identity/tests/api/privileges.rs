//! No self-granted privileges: platform scopes reach an agent only through a caller holding
//! `admin:tenant` and the scope itself; a caller without `admin:tenant` binds only scopes it
//! holds; an agent cannot change its own capabilities; credentials follow the same rule;
//! removing a capability revokes the agent's tokens.

use serde_json::{Value, json};
use testkit::TestEnv;
use testkit::identity::{Credential, agent_body};

use crate::helpers::{Identity, World, count, spawn, world};

/// An agent of the world's tenant with `capabilities`, its credential and a token of it.
async fn agent_with(
    id: &Identity,
    w: &World,
    name: &str,
    caps: &[&str],
) -> (Value, Credential, String) {
    let agent = id
        .api
        .create_agent(&w.admin, &agent_body(name, json!({"capabilities": caps})))
        .await
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let cred = id
        .api
        .create_credential(&w.admin, agent_id, &json!({}))
        .await
        .unwrap();
    let token = id
        .api
        .token(&cred.client_id, &cred.client_secret)
        .await
        .unwrap();
    (agent, cred, token)
}

/// The token of a writer agent: agents:read, agents:write and documents:read, no
/// admin:tenant.
async fn writer(id: &Identity, w: &World) -> String {
    let caps = ["agents:read", "agents:write", "documents:read"];
    agent_with(id, w, "writer", &caps).await.2
}

fn assert_refused(res: &testkit::TestResponse, code: &str) {
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(res.json()["code"], code, "{}", res.body);
}

#[tokio::test]
async fn platform_scopes_need_admin_tenant_and_callers_bind_only_what_they_hold() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Privileged").await;
    let writer = writer(&id, &w).await;
    let agents_before = count(&env, "identity.agents").await;

    // It cannot make an agent with a platform scope, not even one it holds.
    for caps in [
        json!(["admin:tenant"]),
        json!(["agents:read"]),
        json!(["billing:*"]),
    ] {
        let res = id
            .api
            .http
            .post_json(
                "/api/v1/agents",
                Some(&writer),
                &agent_body("escalated", json!({"capabilities": caps})),
            )
            .await
            .unwrap();
        assert_refused(&res, "platform_scope_needs_admin");
    }
    // Nor bind a scope of the tenant's own that it does not hold.
    let res = id
        .api
        .http
        .post_json(
            "/api/v1/agents",
            Some(&writer),
            &agent_body("escalated", json!({"capabilities": ["documents:write"]})),
        )
        .await
        .unwrap();
    assert_refused(&res, "scope_not_held");
    assert_eq!(count(&env, "identity.agents").await, agents_before);
    // What it holds, it may pass on.
    let child = id
        .api
        .create_agent(
            &writer,
            &agent_body("child", json!({"capabilities": ["documents:read"]})),
        )
        .await
        .unwrap();
    let child_path = format!("/api/v1/agents/{}", child["id"].as_str().unwrap());
    let res = id
        .api
        .patch(
            &child_path,
            &writer,
            &json!({"capabilities": ["documents:read", "agents:write"]}),
        )
        .await
        .unwrap();
    assert_refused(&res, "platform_scope_needs_admin");

    // An admin:tenant holder without billing:write cannot give billing:write.
    let (_, _, admin_agent) = agent_with(
        &id,
        &w,
        "sub-admin",
        &["admin:tenant", "agents:read", "agents:write"],
    )
    .await;
    let res = id
        .api
        .patch(
            &child_path,
            &admin_agent,
            &json!({"capabilities": ["documents:read", "billing:write"]}),
        )
        .await
        .unwrap();
    assert_refused(&res, "scope_not_held");
    // It may give a platform scope it holds, and the tenant's own scopes.
    let res = id
        .api
        .patch(
            &child_path,
            &admin_agent,
            &json!({"capabilities": ["documents:read", "agents:read", "reports:write"]}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let stored = id.api.http.get_auth(&child_path, &w.admin).await.unwrap();
    assert_eq!(
        stored.json()["capabilities"],
        json!(["documents:read", "agents:read", "reports:write"])
    );
    // The refused changes stored nothing.
    assert_eq!(
        count(
            &env,
            &format!(
                "identity.audit_events WHERE action = 'agent.updated' AND target = 'agent:{}'",
                child["id"].as_str().unwrap()
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_agent_cannot_change_its_own_capabilities() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Selfish").await;
    let (agent, _, token) = agent_with(
        &id,
        &w,
        "self",
        &[
            "admin:tenant",
            "agents:read",
            "agents:write",
            "documents:read",
        ],
    )
    .await;
    let path = format!("/api/v1/agents/{}", agent["id"].as_str().unwrap());
    for caps in [
        json!([
            "admin:tenant",
            "agents:read",
            "agents:write",
            "documents:read",
            "documents:write"
        ]),
        json!(["admin:tenant", "agents:read", "agents:write"]),
    ] {
        let res = id
            .api
            .patch(&path, &token, &json!({"capabilities": caps}))
            .await
            .unwrap();
        assert_refused(&res, "own_capabilities");
    }
    // Its other fields it may change.
    let res = id
        .api
        .patch(&path, &token, &json!({"description": "Describes itself."}))
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    let stored = id.api.http.get_auth(&path, &w.admin).await.unwrap().json();
    assert_eq!(
        stored["capabilities"],
        json!([
            "admin:tenant",
            "agents:read",
            "agents:write",
            "documents:read"
        ])
    );
}

#[tokio::test]
async fn credentials_bind_only_what_the_caller_may_give() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Credentialed").await;
    let writer = writer(&id, &w).await;
    let (powerful, powerful_cred, _) = agent_with(
        &id,
        &w,
        "powerful",
        &["admin:tenant", "agents:read", "documents:read"],
    )
    .await;
    let powerful_id = powerful["id"].as_str().unwrap();
    let creds = format!("/api/v1/agents/{powerful_id}/credentials");
    let clients_before = count(&env, "identity.clients").await;

    // Without a scope list the credential carries admin:tenant: refused.
    for (body, code) in [
        (json!({}), "platform_scope_needs_admin"),
        (
            json!({"scopes": ["agents:read"]}),
            "platform_scope_needs_admin",
        ),
    ] {
        let res = id
            .api
            .http
            .post_json(&creds, Some(&writer), &body)
            .await
            .unwrap();
        assert_refused(&res, code);
    }
    assert_eq!(count(&env, "identity.clients").await, clients_before);
    // Rotating the powerful agent's credential would hand its secret out: refused too.
    let res = id
        .api
        .post_empty(&format!("{creds}/{}/rotate", powerful_cred.id), &writer)
        .await
        .unwrap();
    assert_refused(&res, "platform_scope_needs_admin");
    assert!(
        id.api
            .token(&powerful_cred.client_id, &powerful_cred.client_secret)
            .await
            .is_ok(),
        "the secret is unchanged"
    );
    // A credential limited to what the writer holds is fine.
    let limited = id
        .api
        .http
        .post_json(
            &creds,
            Some(&writer),
            &json!({"scopes": ["documents:read"]}),
        )
        .await
        .unwrap();
    assert_eq!(limited.status, 201, "{}", limited.body);
}

/// The status of `GET /api/v1/agents` with `token`.
async fn listing(id: &Identity, token: &str) -> u16 {
    id.api
        .http
        .get_auth("/api/v1/agents", token)
        .await
        .unwrap()
        .status
}

#[tokio::test]
async fn removing_a_capability_revokes_the_agents_tokens() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Demoted").await;
    let token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let path = format!("/api/v1/agents/{}", w.agent_id());
    assert_eq!(listing(&id, &token).await, 200);
    // Adding a capability leaves the tokens alone; removing one revokes them (they may
    // carry it).
    for (caps, then) in [
        (
            json!(["agents:read", "documents:read", "documents:write"]),
            200,
        ),
        (json!(["agents:read", "documents:read"]), 401),
    ] {
        let res = id
            .api
            .patch(&path, &w.admin, &json!({ "capabilities": caps }))
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(listing(&id, &token).await, then, "after {caps}");
    }
    let seen = id
        .api
        .introspect(&w.tenant.client_id, &w.tenant.client_secret, &token)
        .await
        .unwrap();
    assert_eq!(seen["active"], false);
}
