//! `GET /agents/{id}/.well-known/agent-card.json`.

use domain::cards::{self, CardContext};
use testkit::TestEnv;

use crate::helpers::{spawn, world};

#[tokio::test]
async fn active_agents_serve_their_a2a_card_others_do_not() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Card Host").await;
    let path = format!("/agents/{}/.well-known/agent-card.json", w.agent_id());

    let res = id.app.client.get(&path).await.unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
    let snapshot: domain::AgentSnapshot = serde_json::from_value(w.agent.clone()).unwrap();
    let expected = cards::a2a_card(
        &snapshot,
        CardContext {
            base_url: "http://localhost:8080",
            publisher: Some("Card Host"),
        },
    );
    assert_eq!(res.json(), expected);
    assert_eq!(
        res.json()["supportedInterfaces"][0]["url"],
        format!("http://localhost:8080/agents/{}", w.agent_id())
    );

    let agent_path = format!("/api/v1/agents/{}", w.agent_id());
    let suspended = id
        .api
        .post_empty(&format!("{agent_path}/suspend"), &w.admin)
        .await
        .unwrap();
    assert_eq!(suspended.status, 200);
    assert_eq!(id.app.client.get(&path).await.unwrap().status, 404);

    id.api.delete(&agent_path, &w.admin).await.unwrap();
    let gone = id.app.client.get(&path).await.unwrap();
    assert_eq!(gone.status, 410);
    assert_eq!(gone.json()["code"], "agent_decommissioned");

    let unknown = "/agents/00000000-0000-0000-0000-000000000000/.well-known/agent-card.json";
    assert_eq!(id.app.client.get(unknown).await.unwrap().status, 404);
    assert_eq!(
        id.app
            .client
            .get("/agents/nope/.well-known/agent-card.json")
            .await
            .unwrap()
            .status,
        404
    );
}
