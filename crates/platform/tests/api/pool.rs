//! The PostgreSQL pool: its minimum, idle reaping, and 503 when exhausted.

use std::time::{Duration, Instant};

use testkit::{TestEnv, eventually};

use crate::support::spawn;

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
