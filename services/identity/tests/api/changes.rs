//! A change refused inside its transaction rolls back and gives its connection back: with a
//! small pool, refusals in a row neither exhaust it nor leave a row locked.

use std::time::Duration;

use serde_json::json;
use testkit::TestEnv;

use crate::helpers::{count, spawn, world};

#[tokio::test]
async fn refused_changes_roll_back_and_release_their_locks_and_connections() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[("DB_POOL_MAX", "3"), ("DB_POOL_MIN", "0")]).await;
    let w = world(&id, "Rollback Ltd").await;
    let agent = w.agent_id().to_owned();
    let credentials = count(
        &env,
        &format!("identity.clients WHERE agent_id = '{agent}'"),
    )
    .await;
    for _ in 0..12 {
        // Refused after the change locked the agent's row.
        let res = id
            .api
            .http
            .post_json(
                &format!("/api/v1/agents/{agent}/credentials"),
                Some(&w.admin),
                &json!({"scopes": ["nothing:granted"]}),
            )
            .await
            .unwrap();
        assert_eq!(res.status, 422, "{}", res.body);
        // Refused after the change looked for a row that is not there.
        let res = id
            .api
            .patch(
                &format!("/api/v1/agents/{}", uuid::Uuid::now_v7()),
                &w.admin,
                &json!({"name": "nobody"}),
            )
            .await
            .unwrap();
        assert_eq!(res.status, 404, "{}", res.body);
    }
    // The agent's row is free again at once, and a connection is there for the change.
    let renamed = tokio::time::timeout(
        Duration::from_secs(10),
        id.api.patch(
            &format!("/api/v1/agents/{agent}"),
            &w.admin,
            &json!({"name": "Renamed"}),
        ),
    )
    .await
    .expect("the agent's row is not left locked")
    .unwrap();
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.json()["name"], "Renamed");
    assert_eq!(
        count(
            &env,
            &format!("identity.clients WHERE agent_id = '{agent}'"),
        )
        .await,
        credentials,
        "refused changes store nothing"
    );
}
