//! The shared platform, exercised through the marketplace's real server and binary.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use testkit::{PrivateRedis, SlowHttp, TestDb, TestEnv, eventually, logs};

use crate::helpers::{spawn, with};

/// A path every instance counts against the per-IP limit.
const LIMITED: &str = "/api/v1/marketplace/agents";

fn remaining(res: &testkit::TestResponse) -> Option<u64> {
    res.header("ratelimit-remaining")
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn two_instances_share_one_limit() {
    let env = TestEnv::new().await.unwrap();
    let limits = [
        ("RATE_LIMIT_MAX_REQUESTS", "5"),
        ("RATE_LIMIT_WINDOW_MS", "60000"),
    ];
    let a = spawn(&env, &limits).await;
    let b = spawn(&env, &limits).await;

    for i in 0..5u64 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app.client.get(LIMITED).await.unwrap();
        assert_ne!(res.status, 429, "request {i} refused too early");
        assert_eq!(remaining(&res), Some(4 - i), "request {i}");
        assert_eq!(res.header("ratelimit-limit"), Some("5"));
    }
    for app in [&b, &a] {
        let res = app.client.get(LIMITED).await.unwrap();
        assert_eq!(res.status, 429);
        let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=66).contains(&retry), "Retry-After {retry}");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let body = res.json();
        assert_eq!(body["code"], "rate_limited");
        assert_eq!(body["limit"], "ip");
        assert_eq!(body["status"], 429);
    }
    // Health and metrics are never limited, and the refusals are counted.
    assert_eq!(a.client.get("/health/live").await.unwrap().status, 200);
    let metrics = a.client.get("/metrics").await.unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l.starts_with("agentidp_rate_limit_hits_total") && l.contains("action=\"ip\"")),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn redis_outage_falls_back_to_memory_and_sharing_resumes() {
    let env = TestEnv::new().await.unwrap();
    let mut redis = PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let overrides = [
        ("REDIS_URL", url.as_str()),
        ("RATE_LIMIT_MAX_REQUESTS", "4"),
        ("RATE_LIMIT_WINDOW_MS", "60000"),
    ];
    let a = spawn(&env, &overrides).await;
    let b = spawn(&env, &overrides).await;
    assert_eq!(remaining(&a.client.get(LIMITED).await.unwrap()), Some(3));

    redis.stop();
    // Served under the in-memory limit of each instance, never refused wholesale.
    for i in 0..4 {
        let res = a.client.get(LIMITED).await.unwrap();
        assert_ne!(res.status, 429, "request {i} during the outage");
        assert!(res.status < 500, "request {i}: {}", res.status);
    }
    assert_eq!(a.client.get(LIMITED).await.unwrap().status, 429);
    let port = format!("127.0.0.1:{}", redis.port());
    let warnings = logs::lines_with(&["redis is unreachable", &port, "WARN"]);
    assert!(!warnings.is_empty(), "no warning logged for {port}");

    redis.restart().await.unwrap();
    // Back on Redis: the (empty) shared window replaces the full in-memory one.
    let back = eventually(Duration::from_secs(5), || async {
        let res = a.client.get(LIMITED).await.ok()?;
        (res.status != 429 && remaining(&res) == Some(3)).then_some(())
    })
    .await;
    assert!(back.is_some(), "instance a never returned to Redis");
    // And the limit is shared again: b sees a's request.
    let res = b.client.get(LIMITED).await.unwrap();
    assert_ne!(res.status, 429);
    assert_eq!(remaining(&res), Some(2));
    assert_eq!(remaining(&a.client.get(LIMITED).await.unwrap()), Some(1));
    assert_eq!(remaining(&b.client.get(LIMITED).await.unwrap()), Some(0));
    assert_eq!(a.client.get(LIMITED).await.unwrap().status, 429);
    assert!(!logs::lines_with(&["reachable again", &port]).is_empty());
}

#[tokio::test]
async fn in_memory_limiter_when_redis_limiting_is_disabled() {
    let env = TestEnv::new().await.unwrap();
    let overrides = [
        ("REDIS_RATE_LIMIT_ENABLED", "false"),
        ("RATE_LIMIT_MAX_REQUESTS", "2"),
    ];
    let a = spawn(&env, &overrides).await;
    let b = spawn(&env, &overrides).await;
    // Each instance counts on its own.
    for app in [&a, &b] {
        assert_ne!(app.client.get(LIMITED).await.unwrap().status, 429);
        assert_ne!(app.client.get(LIMITED).await.unwrap().status, 429);
        let res = app.client.get(LIMITED).await.unwrap();
        assert_eq!(res.status, 429);
        assert!(res.header("retry-after").is_some());
    }
}

#[tokio::test]
async fn detailed_health_reports_each_dependency() {
    let env = TestEnv::new().await.unwrap();
    let slow_vault = SlowHttp::start(Duration::from_millis(1200), 200)
        .await
        .unwrap();
    let stuck_opa = SlowHttp::start(Duration::from_millis(3000), 200)
        .await
        .unwrap();
    let mut redis = PrivateRedis::start().await.unwrap();
    let redis_url = redis.url();

    let healthy = spawn(&env, &[]).await;
    let degraded = spawn(&env, &[("VAULT_ADDR", &slow_vault.url())]).await;
    let unreachable_opa = spawn(&env, &[("OPA_URL", &stuck_opa.url())]).await;
    let no_redis = spawn(&env, &[("REDIS_URL", &redis_url)]).await;
    redis.stop();

    let (h, d, o, r) = tokio::join!(
        healthy.client.get("/health/detailed"),
        degraded.client.get("/health/detailed"),
        unreachable_opa.client.get("/health/detailed"),
        no_redis.client.get("/health/detailed"),
    );
    let (h, d, o, r) = (h.unwrap(), d.unwrap(), o.unwrap(), r.unwrap());

    assert_eq!(h.status, 200, "{}", h.body);
    let hb = h.json();
    assert_eq!(hb["status"], "healthy");
    assert_eq!(hb["database"]["status"], "healthy");
    assert_eq!(hb["redis"]["status"], "healthy");
    assert!(hb["database"]["latencyMs"].is_u64());
    assert!(hb.get("vault").is_none() && hb.get("opa").is_none());

    assert_eq!(d.status, 207, "{}", d.body);
    let db = d.json();
    assert_eq!(db["status"], "degraded");
    assert_eq!(db["vault"]["status"], "degraded");
    assert!(db["vault"]["latencyMs"].as_u64().unwrap() > 1000);

    assert_eq!(o.status, 503, "{}", o.body);
    let ob = o.json();
    assert_eq!(ob["status"], "unhealthy");
    assert_eq!(ob["opa"]["status"], "unreachable");
    assert!(ob["opa"]["latencyMs"].as_u64().unwrap() >= 2000);

    assert_eq!(r.status, 503, "{}", r.body);
    let rb = r.json();
    assert_eq!(rb["status"], "unhealthy");
    assert_eq!(rb["redis"]["status"], "unreachable");
    assert!(rb["redis"]["message"].is_string());
    // Readiness does not depend on Redis: every Redis use fails open.
    assert_eq!(
        no_redis.client.get("/health/ready").await.unwrap().status,
        200
    );
}

#[tokio::test]
async fn idle_connections_are_reaped_to_the_minimum() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(
        &env,
        &[
            ("DB_POOL_MIN", "2"),
            ("DB_POOL_MAX", "6"),
            ("DB_POOL_IDLE_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let db = app.core.db.clone();
    // The minimum is opened without any request.
    let filled = eventually(Duration::from_secs(5), || async {
        (db.pool().status().size >= 2).then_some(())
    })
    .await;
    assert!(filled.is_some(), "pool never reached its minimum");

    let held: Vec<_> = hold_connections(&db, 6).await;
    assert_eq!(db.pool().status().size, 6);
    drop(held);
    let reaped = eventually(Duration::from_secs(5), || async {
        (db.pool().status().size == 2).then_some(())
    })
    .await;
    assert!(reaped.is_some(), "size stayed {}", db.pool().status().size);
    // And it stays at the minimum, never below.
    for _ in 0..10 {
        db.reap_idle();
        assert!(db.pool().status().size >= 2);
    }
}

async fn hold_connections(db: &platform::db::Db, n: usize) -> Vec<platform::db::Client> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let db = db.clone();
        tasks.push(tokio::spawn(async move { db.get().await.unwrap() }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_within_the_connection_timeout() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(
        &env,
        &[
            ("DB_POOL_MAX", "2"),
            ("DB_POOL_CONNECTION_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let _held = hold_connections(&app.core.db, 2).await;
    let start = Instant::now();
    let err = app.core.db.get().await.unwrap_err();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(280), "{waited:?}");
    assert!(waited < Duration::from_millis(800), "{waited:?}");
    assert_eq!(err.status().as_u16(), 503);
    assert_eq!(err.code(), "database_unavailable");
    let res = actix_web::ResponseError::error_response(&err);
    assert_eq!(res.headers().get("retry-after").unwrap(), "1");
}

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
