//! `/api/v1/agents`.

use serde_json::{Value, json};
use testkit::TestEnv;
use testkit::identity::agent_body;

use crate::helpers::{count, spawn, world};

#[tokio::test]
async fn register_read_update_and_list_agents() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let t = id.api.signup("Agents Inc").await.unwrap();
    let admin = id.api.admin_token(&t).await.unwrap();
    let res = id
        .api
        .http
        .post_json(
            "/api/v1/agents",
            Some(&admin),
            &agent_body("Invoice Reader", json!({"tags": ["Finance", "finance", "ocr"], "capabilities": ["invoices:read", "invoices:read"]})),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 201, "{}", res.body);
    let agent = res.json();
    let aid = agent["id"].as_str().unwrap();
    assert_eq!(
        res.header("location").unwrap(),
        format!("/api/v1/agents/{aid}")
    );
    assert_eq!(agent["status"], "active");
    assert_eq!(agent["listed"], true);
    assert_eq!(agent["tags"], json!(["finance", "ocr"]));
    assert_eq!(agent["capabilities"], json!(["invoices:read"]));
    assert_eq!(
        agent["did"],
        format!("did:web:localhost%3A8080:agents:{aid}")
    );

    let got = id
        .api
        .http
        .get_auth(&format!("/api/v1/agents/{aid}"), &admin)
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.json(), agent);

    let patched = id
        .api
        .patch(
            &format!("/api/v1/agents/{aid}"),
            &admin,
            &json!({"version": "1.1.0", "listed": false}),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["version"], "1.1.0");
    assert_eq!(patched.json()["listed"], false);
    assert_eq!(patched.json()["name"], "Invoice Reader");

    // Status is changed by its own endpoints, never by PATCH.
    let status = id
        .api
        .patch(
            &format!("/api/v1/agents/{aid}"),
            &admin,
            &json!({"status": "suspended"}),
        )
        .await
        .unwrap();
    assert_eq!(status.status, 422);
    assert_eq!(status.json()["errors"][0]["field"], "status");

    for i in 0..4 {
        id.api
            .create_agent(
                &admin,
                &agent_body(
                    &format!("Router {i}"),
                    json!({"agent_type": "router", "deployment_env": "production"}),
                ),
            )
            .await
            .unwrap();
    }
    let routers = id
        .api
        .http
        .get_auth("/api/v1/agents?agent_type=router", &admin)
        .await
        .unwrap();
    assert_eq!(routers.json()["data"].as_array().unwrap().len(), 4);
    let tagged = id
        .api
        .http
        .get_auth("/api/v1/agents?tag=ocr", &admin)
        .await
        .unwrap();
    assert_eq!(tagged.json()["data"].as_array().unwrap().len(), 1);
    // The filter follows registration's rule for tags: trimmed and lowercased, and a value
    // no agent could carry is refused rather than matching nothing.
    let loose = id
        .api
        .http
        .get_auth("/api/v1/agents?tag=%20OCR%20", &admin)
        .await
        .unwrap();
    assert_eq!(loose.json()["data"].as_array().unwrap().len(), 1);
    let impossible = id
        .api
        .http
        .get_auth("/api/v1/agents?tag=o%2Fcr", &admin)
        .await
        .unwrap();
    assert_eq!(impossible.status, 400);
    assert_eq!(error_fields(&impossible.json()), vec!["tag"]);
    let prod = id
        .api
        .http
        .get_auth("/api/v1/agents?deployment_env=production&limit=100", &admin)
        .await
        .unwrap();
    assert_eq!(prod.json()["data"].as_array().unwrap().len(), 4);

    // Keyset pages of two cover all five agents once, in creation order.
    let mut seen: Vec<String> = Vec::new();
    let mut path = "/api/v1/agents?limit=2".to_owned();
    loop {
        let page = id.api.http.get_auth(&path, &admin).await.unwrap().json();
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/agents?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5);
    assert_eq!(seen[0], aid);
    assert_eq!(
        count(&env, "identity.audit_events WHERE action = 'agent.created'").await,
        5
    );
    assert_eq!(count(&env, "identity.agent_keys").await, 5);
}

fn error_fields(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn invalid_agents_name_every_bad_field_and_store_nothing() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let t = id.api.signup("Strict").await.unwrap();
    let admin = id.api.admin_token(&t).await.unwrap();
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (agent_body("", json!({})), vec!["name"]),
        (
            agent_body("x", json!({"agent_type": "robot"})),
            vec!["agent_type"],
        ),
        (agent_body("x", json!({"version": "1.0"})), vec!["version"]),
        (
            agent_body("x", json!({"version": "01.0.0"})),
            vec!["version"],
        ),
        (
            agent_body("x", json!({"deployment_env": "prod"})),
            vec!["deployment_env"],
        ),
        (
            agent_body(
                "x",
                json!({"capabilities": ["read", "Docs:Read", "ok:read"]}),
            ),
            vec!["capabilities[0]", "capabilities[1]"],
        ),
        (
            agent_body("x", json!({"tags": ["good", "bad tag"]})),
            vec!["tags[1]"],
        ),
        (agent_body("x", json!({"owner": " "})), vec!["owner"]),
        (agent_body(&"n".repeat(129), json!({})), vec!["name"]),
        (agent_body("x", json!({"listed": "yes"})), vec!["listed"]),
        (
            agent_body(
                "x",
                json!({"agent_type": "robot", "version": "x", "deployment_env": "moon"}),
            ),
            vec!["agent_type", "version", "deployment_env"],
        ),
        (agent_body("x", json!({"unknown": 1})), vec!["unknown"]),
    ];
    for (body, fields) in cases {
        let res = id
            .api
            .http
            .post_json("/api/v1/agents", Some(&admin), &body)
            .await
            .unwrap();
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        let got = error_fields(&res.json());
        for f in fields {
            assert!(got.contains(&f.to_owned()), "{body}: {f} not in {got:?}");
        }
    }
    assert_eq!(count(&env, "identity.agents").await, 0);
    assert_eq!(
        count(&env, "identity.audit_events WHERE action LIKE 'agent.%'").await,
        0
    );
    let bad_query = id
        .api
        .http
        .get_auth("/api/v1/agents?limit=0", &admin)
        .await
        .unwrap();
    assert_eq!(bad_query.status, 400);
    assert_eq!(bad_query.json()["code"], "invalid_query");
    let bad_status = id
        .api
        .http
        .get_auth("/api/v1/agents?status=sleeping", &admin)
        .await
        .unwrap();
    assert_eq!(bad_status.status, 400);
    assert_eq!(error_fields(&bad_status.json()), vec!["status"]);
    let bad_cursor = id
        .api
        .http
        .get_auth("/api/v1/agents?cursor=xyz", &admin)
        .await
        .unwrap();
    assert_eq!(bad_cursor.status, 400);
}

#[tokio::test]
async fn another_tenants_objects_are_404_on_every_route() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let victim = world(&id, "Victim").await;
    let attacker = world(&id, "Attacker").await;
    let aid = victim.agent_id();
    let cid = &victim.cred.id;
    let t = &attacker.admin;
    let checks = [
        id.api
            .http
            .get_auth(&format!("/api/v1/agents/{aid}"), t)
            .await
            .unwrap(),
        id.api
            .patch(
                &format!("/api/v1/agents/{aid}"),
                t,
                &json!({"name": "pwned"}),
            )
            .await
            .unwrap(),
        id.api
            .delete(&format!("/api/v1/agents/{aid}"), t)
            .await
            .unwrap(),
        id.api
            .post_empty(&format!("/api/v1/agents/{aid}/suspend"), t)
            .await
            .unwrap(),
        id.api
            .post_empty(&format!("/api/v1/agents/{aid}/reactivate"), t)
            .await
            .unwrap(),
        id.api
            .http
            .get_auth(&format!("/api/v1/agents/{aid}/credentials"), t)
            .await
            .unwrap(),
        id.api
            .http
            .post_json(
                &format!("/api/v1/agents/{aid}/credentials"),
                Some(t),
                &json!({}),
            )
            .await
            .unwrap(),
        id.api
            .post_empty(&format!("/api/v1/agents/{aid}/credentials/{cid}/rotate"), t)
            .await
            .unwrap(),
        id.api
            .delete(&format!("/api/v1/agents/{aid}/credentials/{cid}"), t)
            .await
            .unwrap(),
        id.api
            .http
            .get_auth(&format!("/api/v1/tenants/{}", victim.tenant.id), t)
            .await
            .unwrap(),
    ];
    for (i, res) in checks.iter().enumerate() {
        assert_eq!(res.status, 404, "check {i}: {}", res.body);
        assert_eq!(res.json()["code"], "not_found", "check {i}");
    }
    // The attacker's list holds only its own agent.
    let list = id
        .api
        .http
        .get_auth("/api/v1/agents", t)
        .await
        .unwrap()
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Nothing of the victim changed.
    let c = env.db.client().await.unwrap();
    let row = c
        .query_one(
            "SELECT name, status FROM identity.agents WHERE id = $1::text::uuid",
            &[&aid],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Victim agent");
    assert_eq!(row.get::<_, String>(1), "active");
    assert!(
        id.api
            .token(&victim.cred.client_id, &victim.cred.client_secret)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn scopes_and_authentication_guard_the_api() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Scoped").await;
    // The agent's token carries its capabilities: agents:read but not agents:write.
    let agent_token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    assert_eq!(
        id.api
            .http
            .get_auth("/api/v1/agents", &agent_token)
            .await
            .unwrap()
            .status,
        200
    );
    let write = id
        .api
        .http
        .post_json(
            "/api/v1/agents",
            Some(&agent_token),
            &agent_body("x", json!({})),
        )
        .await
        .unwrap();
    assert_eq!(write.status, 403);
    assert_eq!(write.json()["code"], "insufficient_scope");
    assert!(
        write
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    assert_eq!(
        id.api
            .http
            .get_auth("/api/v1/tenants/me", &agent_token)
            .await
            .unwrap()
            .status,
        403
    );

    let none = id.api.http.get("/api/v1/agents").await.unwrap();
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    let garbage = id
        .api
        .http
        .get_auth("/api/v1/agents", "not.a.jwt")
        .await
        .unwrap();
    assert_eq!(garbage.status, 401);
    // A token with a tampered payload fails the signature.
    let mut parts: Vec<String> = w.admin.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let tampered = id
        .api
        .http
        .get_auth("/api/v1/agents", &parts.join("."))
        .await
        .unwrap();
    assert_eq!(tampered.status, 401);
}
