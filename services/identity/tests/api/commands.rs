//! The binary's shared commands as a container runs them: `migrate` with nothing but
//! `DATABASE_URL` (the Kubernetes migration job), `healthcheck` (the image's HEALTHCHECK).

use std::process::Stdio;

use testkit::process::ChildService;
use testkit::{TestDb, TestEnv};

/// Runs `identity <args>` with exactly `vars` (plus `PATH`); returns the exit code.
async fn identity(args: &[&str], vars: &[(&str, &str)]) -> i32 {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap()
        .code()
        .unwrap_or(-1)
}

#[tokio::test]
async fn migrate_needs_only_the_database_url() {
    testkit::logs::init();
    let db = TestDb::empty().await.unwrap();
    assert_eq!(
        identity(&["migrate"], &[("DATABASE_URL", db.url())]).await,
        0
    );
    let client = db.client().await.unwrap();
    let applied: i64 = client
        .query_one("SELECT count(*) FROM identity.refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert!(applied > 0);
    // `serve` still requires its secrets.
    assert_eq!(
        identity(&["validate-config"], &[("DATABASE_URL", db.url())]).await,
        2
    );
}

#[tokio::test]
async fn healthcheck_succeeds_only_while_the_service_answers() {
    let env = TestEnv::new().await.unwrap();
    let vars = env.env();
    let child = ChildService::start(env!("CARGO_BIN_EXE_identity"), &vars)
        .await
        .unwrap();
    let port = child.port.to_string();
    let mut with_port: Vec<(&str, &str)> = vars.iter().collect();
    with_port.retain(|(k, _)| *k != "PORT");
    with_port.push(("PORT", &port));
    assert_eq!(identity(&["healthcheck"], &with_port).await, 0);
    drop(child);
    let nobody = testkit::free_port().unwrap().to_string();
    with_port.retain(|(k, _)| *k != "PORT");
    with_port.push(("PORT", &nobody));
    assert_eq!(identity(&["healthcheck"], &with_port).await, 1);
}
