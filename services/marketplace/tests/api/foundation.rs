//! The marketplace's binary and build on the shared start-up path: an unmigrated database
//! is refused, invalid configuration exits 2 naming every variable, SIGTERM drains.
//! The platform's own behaviour (limits, health, pools) is tested in
//! `crates/platform/tests`.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use testkit::{SlowHttp, TestDb, TestEnv, eventually, logs};

use crate::helpers::with;

#[tokio::test]
async fn an_unmigrated_database_is_refused() {
    logs::init();
    let empty = TestDb::empty().await.unwrap();
    let env = TestEnv::new().await.unwrap();
    let env = with(env.env(), &[("DATABASE_URL", empty.url())]);
    let config = marketplace::Config::from_env(&env).unwrap();
    let err = marketplace::build(config).await.unwrap_err();
    assert!(format!("{err:#}").contains("not migrated"), "{err:#}");
}

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_marketplace"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("MARKETPLACE_INDEX_DIR", crate::helpers::index_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

#[tokio::test]
async fn invalid_configuration_exits_non_zero_naming_every_variable() {
    let bad = [
        ("DB_POOL_MAX", "lots"),
        ("REDIS_URL", "http://user:s3cretpw@not-redis"),
        ("LOG_FORMAT", "xml"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "nowhere"),
        ("MARKETPLACE_ENABLED", "perhaps"),
    ];
    for sub in ["validate-config", "serve"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = binary()
            .arg(sub)
            .envs(bad)
            .env("PORT", port.to_string())
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for (var, _) in bad {
            assert!(stderr.contains(var), "{sub}: {var} not named in {stderr}");
        }
        assert!(
            !stderr.contains("s3cretpw"),
            "a secret was echoed: {stderr}"
        );
        // Nothing was bound.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
    let ok = binary().arg("validate-config").output().await.unwrap();
    assert!(ok.status.success());
}

async fn listening_port(child: &mut Child) -> u16 {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let port = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["message"] == "listening" {
                let addr = v["address"].as_str().unwrap_or_default();
                return addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .expect("the service logs its address");
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    port
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let env = TestEnv::new().await.unwrap();
    let vault = SlowHttp::start(Duration::from_millis(1500), 200)
        .await
        .unwrap();
    let mut vars: Vec<(String, String)> = vec![
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("DATABASE_URL".into(), env.db.url().into()),
        ("REDIS_URL".into(), env.redis_url.clone()),
        ("REDIS_KEY_PREFIX".into(), env.redis_prefix.clone()),
        ("VAULT_ADDR".into(), vault.url()),
        ("DB_POOL_MIN".into(), "1".into()),
    ];
    vars.push(("SHUTDOWN_TIMEOUT_MS".into(), "10000".into()));
    let mut child = binary().args(["serve"]).envs(vars).spawn().unwrap();
    let port = listening_port(&mut child).await;
    let client = testkit::Client::new(&format!("http://127.0.0.1:{port}"));

    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.get("/health/detailed").await }
    });
    let arrived = eventually(Duration::from_secs(5), || async {
        (vault.hits() >= 1).then_some(())
    })
    .await;
    assert!(arrived.is_some(), "request never reached the handler");

    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());

    // New connections are refused while the in-flight request is still being served.
    let closed = eventually(Duration::from_secs(3), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(closed.is_some(), "listener still open after SIGTERM");
    assert!(!in_flight.is_finished());

    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status, 207, "{}", res.body);
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
