//! Agent lifecycle: suspension, reactivation, decommissioning and the conflicts between them.

use serde_json::json;
use testkit::TestEnv;

use crate::helpers::{spawn, world};

#[tokio::test]
async fn lifecycle_transitions_and_conflicts() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Lifecycle").await;
    let aid = w.agent_id();
    let a = &w.admin;
    let suspend = id
        .api
        .post_empty(&format!("/api/v1/agents/{aid}/suspend"), a)
        .await
        .unwrap();
    assert_eq!(suspend.json()["status"], "suspended");
    // Idempotent.
    assert_eq!(
        id.api
            .post_empty(&format!("/api/v1/agents/{aid}/suspend"), a)
            .await
            .unwrap()
            .status,
        200
    );
    let react = id
        .api
        .post_empty(&format!("/api/v1/agents/{aid}/reactivate"), a)
        .await
        .unwrap();
    assert_eq!(react.json()["status"], "active");
    let gone = id
        .api
        .delete(&format!("/api/v1/agents/{aid}"), a)
        .await
        .unwrap();
    assert_eq!(gone.status, 200);
    assert_eq!(gone.json()["status"], "decommissioned");
    for path in ["suspend", "reactivate"] {
        let res = id
            .api
            .post_empty(&format!("/api/v1/agents/{aid}/{path}"), a)
            .await
            .unwrap();
        assert_eq!(res.status, 409, "{path}");
        assert_eq!(res.json()["code"], "agent_decommissioned");
    }
    let patch = id
        .api
        .patch(
            &format!("/api/v1/agents/{aid}"),
            a,
            &json!({"name": "again"}),
        )
        .await
        .unwrap();
    assert_eq!(patch.status, 409);
    let cred = id
        .api
        .http
        .post_json(
            &format!("/api/v1/agents/{aid}/credentials"),
            Some(a),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(cred.status, 409);
    // Decommissioning revoked the credential; the history stays.
    let creds = id
        .api
        .http
        .get_auth(&format!("/api/v1/agents/{aid}/credentials"), a)
        .await
        .unwrap()
        .json();
    assert_eq!(creds["data"][0]["status"], "revoked");
    assert_eq!(
        id.api
            .http
            .get_auth(&format!("/api/v1/agents/{aid}"), a)
            .await
            .unwrap()
            .status,
        200
    );
    let actions: Vec<String> = {
        let c = env.db.client().await.unwrap();
        c.query(
            "SELECT action FROM identity.audit_events WHERE target = $1 ORDER BY chain_seq",
            &[&format!("agent:{aid}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(
        actions,
        [
            "agent.created",
            "agent.suspended",
            "agent.reactivated",
            "agent.decommissioned"
        ]
    );
}
