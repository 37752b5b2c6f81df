//! The partner interoperability command, `analytics check-cards`, against a running
//! analytics (valid cards, exit 0) and against a deployment serving an invalid card (exit 1).

use std::process::Command;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use testkit::{TestEnv, eventually};

use crate::helpers::{stack, world};

async fn check_cards(url: &str, token: &str) -> (i32, String) {
    let url = url.to_owned();
    let token = token.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_analytics"))
            .args(["check-cards", "--url", &url, "--token", &token])
            .env_remove("AGENTIDP_CLIENT_ID")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A deployment that serves `export` as its agent cards.
fn fake_deployment(export: Value) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let export = export.clone();
        App::new().route(
            "/api/v1/compliance/agent-cards",
            web::get().to(move || {
                let export = export.clone();
                async move { HttpResponse::Ok().json(export) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

#[tokio::test]
async fn check_cards_passes_a_valid_deployment_and_fails_an_invalid_card() {
    let env = TestEnv::new().await.unwrap();
    let s = stack(&env, &[]).await;
    let w = world(&s.api, "Partner Check").await;
    let api = &s.analytics.client;
    let export = eventually(Duration::from_secs(30), || async {
        let b = api
            .get_auth("/api/v1/compliance/agent-cards", &w.admin)
            .await
            .unwrap()
            .json();
        (b["count"] == 1).then_some(b)
    })
    .await
    .expect("the agent's card never appeared");

    let (code, out) = check_cards(&s.analytics.base_url, &w.admin).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("ok       {}", w.agent_id())), "{out}");
    assert!(out.contains("1 agent(s) checked, 0 invalid"), "{out}");

    // The same export with one card broken: an unknown A2A field, a missing OASF field.
    let mut broken = export.clone();
    broken["agents"][0]["a2a_agent_card"]["preferredTransport"] = json!("JSONRPC");
    broken["agents"][0]["oasf_record"]
        .as_object_mut()
        .unwrap()
        .remove("authors");
    let (url, handle) = fake_deployment(broken);
    let (code, out) = check_cards(&url, "any").await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("a2a_agent_card /preferredTransport: unknown field"),
        "{out}"
    );
    assert!(
        out.contains("oasf_record /: required field authors is missing"),
        "{out}"
    );
    assert!(out.contains("1 agent(s) checked, 1 invalid"), "{out}");
    handle.stop(true).await;

    // An unreachable deployment is exit 2.
    let (code, out) = check_cards("http://127.0.0.1:9", "any").await;
    assert_eq!(code, 2, "{out}");
}
