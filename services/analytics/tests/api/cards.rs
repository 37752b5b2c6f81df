//! `GET /api/v1/compliance/agent-cards`: cards for every active agent, none for suspended or
//! decommissioned ones, each valid against the pinned schemas.

use std::time::Duration;

use analytics::cards_check;
use domain::cards::{A2A_PROTOCOL_VERSION, OASF_SCHEMA_VERSION};
use serde_json::json;
use testkit::identity::agent_body;
use testkit::{TestEnv, eventually};

use crate::helpers::{stack, world};

#[tokio::test]
async fn cards_exist_for_every_active_agent_and_no_suspended_or_decommissioned_one() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let w = world(&s.api, "Cards Tenant").await;
    let mut ids = vec![w.agent_id().to_owned()];
    for (name, extra) in [
        (
            "Summarizer",
            json!({"agent_type": "summarizer", "description": ""}),
        ),
        ("Sleeper", json!({})),
        ("Retired", json!({})),
    ] {
        let a = s
            .api
            .create_agent(&w.admin, &agent_body(name, extra))
            .await
            .unwrap();
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let suspend = s
        .api
        .post_empty(&format!("/api/v1/agents/{}/suspend", ids[2]), &w.admin)
        .await
        .unwrap();
    assert_eq!(suspend.status, 200, "{}", suspend.body);
    let retire = s
        .api
        .delete(&format!("/api/v1/agents/{}", ids[3]), &w.admin)
        .await
        .unwrap();
    assert!(retire.status < 300, "{}", retire.body);
    // Another tenant's agent never shows.
    world(&s.api, "Other Tenant").await;

    let api = &s.analytics.client;
    let body = eventually(Duration::from_secs(30), || async {
        let res = api
            .get_auth("/api/v1/compliance/agent-cards", &w.admin)
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{}", res.body);
        let b = res.json();
        let listed: Vec<String> = b["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["agent_id"].as_str().unwrap().to_owned())
            .collect();
        (listed == ids[..2]).then_some(b)
    })
    .await
    .expect("the export never listed exactly the active agents");
    assert_eq!(body["count"], 2);
    assert_eq!(
        body["schemas"]["a2a_protocol_version"],
        A2A_PROTOCOL_VERSION
    );
    assert_eq!(body["schemas"]["oasf_schema_version"], OASF_SCHEMA_VERSION);
    let first = &body["agents"][0];
    let card = &first["a2a_agent_card"];
    assert_eq!(card["name"], "Cards Tenant agent");
    assert_eq!(card["provider"]["organization"], "Cards Tenant");
    assert_eq!(
        card["securitySchemes"]["agentidp_oauth2"]["oauth2SecurityScheme"]["flows"]["clientCredentials"]
            ["tokenUrl"],
        "http://localhost:8080/oauth2/token"
    );
    assert_eq!(card["skills"][0]["id"], "agents:read");
    assert_eq!(first["did"], w.agent["did"]);
    assert_eq!(first["oasf_record"]["created_at"], w.agent["created_at"]);
    let second = &body["agents"][1]["oasf_record"];
    assert_eq!(
        second["skills"][0]["name"],
        "natural_language_processing/natural_language_generation/summarization"
    );
    assert!(!second["description"].as_str().unwrap().is_empty());

    let outcome = cards_check::check_export(&body);
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(outcome.cards.len(), 2);

    // Reactivating the suspended agent brings its card back.
    let back = s
        .api
        .post_empty(&format!("/api/v1/agents/{}/reactivate", ids[2]), &w.admin)
        .await
        .unwrap();
    assert_eq!(back.status, 200);
    eventually(Duration::from_secs(30), || async {
        let b = api
            .get_auth("/api/v1/compliance/agent-cards", &w.admin)
            .await
            .unwrap()
            .json();
        (b["count"] == 3).then_some(())
    })
    .await
    .expect("the reactivated agent's card never came back");
}
