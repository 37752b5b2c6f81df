//! A token reaches a client only after its audit event is committed: an identity process
//! killed with SIGKILL in the middle of a token load leaves no token without its event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestEnv;
use testkit::identity::{IdentityClient, agent_body};
use testkit::process::ChildService;
use tokio::sync::Mutex;

fn jti_of(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&identity::crypto::b64url_decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sigkill_during_a_token_load_leaves_no_token_without_its_audit_event() {
    let env = TestEnv::new().await.unwrap();
    let mut vars = env.env();
    vars.set("RATE_LIMIT_TOKEN_CLIENT_MAX", "1000000")
        .set("RATE_LIMIT_TOKEN_IP_MAX", "1000000")
        .set("TIER_ENFORCEMENT", "false");
    let mut child = ChildService::start(env!("CARGO_BIN_EXE_identity"), &vars)
        .await
        .unwrap();
    let api = IdentityClient::new(&child.base_url);
    let tenant = api.signup("Crash Co").await.unwrap();
    let admin = api.admin_token(&tenant).await.unwrap();
    let agent = api
        .create_agent(&admin, &agent_body("crash agent", json!({})))
        .await
        .unwrap();
    let cred = api
        .create_credential(&admin, agent["id"].as_str().unwrap(), &json!({}))
        .await
        .unwrap();

    const KILL_AFTER: usize = 1500;
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let down = Arc::new(AtomicBool::new(false));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut workers = Vec::new();
    for _ in 0..32 {
        let api = IdentityClient::new(&child.base_url);
        let (id, secret) = (cred.client_id.clone(), cred.client_secret.clone());
        let (received, down, enough) = (received.clone(), down.clone(), enough.clone());
        workers.push(tokio::spawn(async move {
            while !down.load(Ordering::SeqCst) {
                match api.token_response(&id, &secret, &[]).await {
                    Ok(res) if res.status == 200 => {
                        let token = res.json()["access_token"].as_str().unwrap().to_owned();
                        let mut got = received.lock().await;
                        got.push(jti_of(&token));
                        if got.len() >= KILL_AFTER {
                            enough.notify_one();
                        }
                    }
                    Ok(res) => {
                        assert!(res.status >= 500, "unexpected {}: {}", res.status, res.body)
                    }
                    // The process is gone: connections are refused or reset.
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .expect("the load reached the kill point");
    child.signal("KILL").unwrap();
    assert_eq!(
        child.wait(Duration::from_secs(10)).await.unwrap(),
        None,
        "killed by a signal"
    );
    down.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    let jtis = received.lock().await.clone();
    assert!(jtis.len() >= KILL_AFTER);
    let targets: Vec<String> = jtis.iter().map(|j| format!("token:{j}")).collect();
    let c = env.db.client().await.unwrap();
    let found: i64 = c
        .query_one(
            "SELECT count(*) FROM identity.audit_events
              WHERE action = 'token.issued' AND target = ANY($1)",
            &[&targets],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        found as usize,
        jtis.len(),
        "tokens reached clients without their audit event"
    );
}
