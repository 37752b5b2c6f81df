//! Bounded work for unauthenticated and failing requests on the OAuth endpoints: malformed
//! client ids leave nothing behind, wrong secrets neither lock the real client out nor flood
//! the audit chain, introspection and revocation are limited per address and per caller,
//! and a cancelled credential lookup does not wedge the next one.

use std::collections::BTreeMap;
use std::time::Duration;

use platform::redis::redis;
use testkit::{PrivateRedis, TestEnv, TestResponse, logs};
use tokio::sync::watch;

use crate::helpers::{Identity, count, spawn, world};

/// Sends `n` token requests whose form body is `body(i)` over `connections` connections at
/// once (each its own client); answers the count per status and one body per status.
async fn flood(
    base: &str,
    n: usize,
    connections: usize,
    body: impl Fn(usize) -> String + Send + Sync + 'static,
) -> BTreeMap<u16, (usize, String)> {
    let body = std::sync::Arc::new(body);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections {
        let body = body.clone();
        let url = format!("{base}/oauth2/token");
        tasks.spawn(async move {
            let http = reqwest::Client::new();
            let mut seen: BTreeMap<u16, (usize, String)> = BTreeMap::new();
            for i in (c..n).step_by(connections) {
                let res = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body(i))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let text = res.text().await.unwrap();
                seen.entry(status).or_insert((0, text)).0 += 1;
            }
            seen
        });
    }
    let mut all: BTreeMap<u16, (usize, String)> = BTreeMap::new();
    while let Some(part) = tasks.join_next().await {
        for (status, (n, body)) in part.unwrap() {
            all.entry(status).or_insert((0, body)).0 += n;
        }
    }
    all
}

/// An integer answer of a Redis command on the application's Redis.
async fn redis_info(id: &Identity, field: &str) -> i64 {
    let info: String = id
        .app
        .core
        .redis
        .run(|mut c| async move { redis::cmd("INFO").arg("memory").query_async(&mut c).await })
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

async fn dbsize(id: &Identity) -> i64 {
    id.app
        .core
        .redis
        .run(|mut c| async move { redis::cmd("DBSIZE").query_async(&mut c).await })
        .await
        .unwrap()
}

/// How many requests with ~30 KB client ids the test sends. The figure is 20,000
/// (600 MB through a debug build, half a minute); an eighth of it shows the same bound (the
/// old code kept a Redis key per id) in a few seconds.
const MALFORMED_IDS: usize = 2_500;

#[tokio::test]
async fn malformed_client_ids_leave_no_redis_key_cache_entry_or_log_line() {
    let env = TestEnv::new().await.unwrap();
    let redis = PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let id = spawn(&env, &[("REDIS_URL", &url)]).await;
    // The answer to an unknown (well-formed) client id is the reference.
    let unknown = id
        .api
        .http
        .post_form(
            "/oauth2/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "aidp_NoSuchClient"),
                ("client_secret", "x"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    let keys_before = dbsize(&id).await;
    let memory_before = redis_info(&id, "used_memory").await;

    let tag = uuid::Uuid::new_v4().simple().to_string();
    let filler = "A".repeat(30 * 1024);
    let body_tag = tag.clone();
    let seen = flood(&id.app.base_url, MALFORMED_IDS, 8, move |i| {
        let client_id = match i % 50 {
            // A few short ones outside the alphabet.
            0 => format!("{body_tag}%20{i}"),
            1 => format!("{body_tag}%C3%BC{i}"),
            2 => format!("{body_tag}.{i}"),
            _ => format!("{body_tag}{i:06}{filler}"),
        };
        format!("grant_type=client_credentials&client_id={client_id}&client_secret=x")
    })
    .await;
    let (n, body) = &seen[&401];
    assert_eq!(*n, MALFORMED_IDS, "{seen:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap(),
        unknown.json(),
        "the same answer as for an unknown client"
    );

    // Nothing was keyed by them: no Redis key, no cache entry, no log line.
    let keys_after = dbsize(&id).await;
    assert!(
        keys_after <= keys_before + 2,
        "Redis keys {keys_before} -> {keys_after}"
    );
    let grown = redis_info(&id, "used_memory").await - memory_before;
    assert!(grown < 4 << 20, "Redis used_memory grew by {grown} bytes");
    let sizes = id.app.state.credential_cache.sizes();
    assert!(sizes.unknown <= 1 && sizes.clients == 0, "{sizes:?}");
    assert!(
        logs::lines_with(&[&tag]).is_empty(),
        "a malformed id was logged"
    );
}

/// A token request with client_secret_basic.
fn basic_token(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
    format!("Basic {raw}")
}

#[tokio::test]
async fn wrong_secrets_neither_lock_out_the_client_nor_flood_the_audit_chain() {
    const ATTEMPTS: usize = 2_000;
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Guessed").await;
    let events_before = count(&env, "identity.audit_events").await;

    // 2,000 wrong secrets for the real client id, from the real client's own address.
    let (progress, mut watch_progress) = watch::channel(0usize);
    let (base, client_id) = (id.app.base_url.clone(), w.cred.client_id.clone());
    let attack = tokio::spawn(async move {
        let auth = basic_token(&client_id, "aidp_sk_guess");
        let http = reqwest::Client::new();
        let url = format!("{base}/oauth2/token");
        let mut tasks = tokio::task::JoinSet::new();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for _ in 0..8 {
            let (http, url, auth, sent, progress) = (
                http.clone(),
                url.clone(),
                auth.clone(),
                sent.clone(),
                progress.clone(),
            );
            tasks.spawn(async move {
                let mut statuses = BTreeMap::<u16, usize>::new();
                while sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < ATTEMPTS {
                    let res = http
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("grant_type=client_credentials")
                        .send()
                        .await
                        .unwrap();
                    *statuses.entry(res.status().as_u16()).or_default() += 1;
                    progress.send_modify(|n| *n += 1);
                }
                statuses
            });
        }
        let mut all = BTreeMap::<u16, usize>::new();
        while let Some(part) = tasks.join_next().await {
            for (s, n) in part.unwrap() {
                *all.entry(s).or_default() += n;
            }
        }
        all
    });

    // The real client gets a token every 100 attempts, throughout the attack...
    let mut issued = 0;
    for mark in (0..ATTEMPTS).step_by(100) {
        watch_progress.wait_for(|n| *n >= mark).await.unwrap();
        let res: TestResponse = id
            .api
            .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
            .await
            .unwrap();
        assert_eq!(res.status, 200, "after {mark} wrong secrets: {}", res.body);
        issued += 1;
    }
    let statuses = attack.await.unwrap();
    assert_eq!(statuses.values().sum::<usize>(), ATTEMPTS, "{statuses:?}");
    assert!(
        statuses.keys().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.get(&429).copied().unwrap_or(0) > 0,
        "the failures were limited: {statuses:?}"
    );
    // ...and right after.
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    issued += 1;

    // One refusal event now; the others are counted in memory and written as one summary.
    let refused = "identity.audit_events WHERE action = 'token.refused'";
    assert_eq!(count(&env, refused).await, 1);
    let Identity { app, api } = id;
    drop(api);
    app.stop().await.unwrap();
    assert_eq!(count(&env, refused).await, 2);
    let c = env.db.client().await.unwrap();
    let counted: i64 = c
        .query_one(
            "SELECT sum((details->>'count')::bigint)::bigint FROM identity.audit_events
              WHERE action = 'token.refused' AND details->>'reason' = 'wrong_secret'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, ATTEMPTS as i64);
    // The chain grew by the issued tokens and the two refusal events, nothing else.
    assert_eq!(
        count(&env, "identity.audit_events").await - events_before,
        issued + 2
    );
}

/// An introspection or revocation request from `ip` (through the trusted proxy).
async fn manage(id: &Identity, path: &str, ip: &str, auth: &str, token: &str) -> TestResponse {
    id.api
        .http
        .send(
            id.api
                .http
                .request(reqwest::Method::POST, path)
                .header("authorization", auth)
                .header("x-forwarded-for", ip)
                .form(&[("token", token)]),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn introspection_and_revocation_are_limited_per_address_and_per_caller() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
            ("RATE_LIMIT_MAX_REQUESTS", "5"),
            ("RATE_LIMIT_OAUTH_CALLER_MAX", "3"),
        ],
    )
    .await;
    let a = id.api.signup("Caller A").await.unwrap();
    let b = id.api.signup("Caller B").await.unwrap();
    let token_a = id.api.admin_token(&a).await.unwrap();
    let bearer_b = format!("Bearer {}", id.api.admin_token(&b).await.unwrap());
    let client_a = basic_token(&a.client_id, &a.client_secret);
    let (one, two) = ("203.0.113.1", "203.0.113.2");

    // Caller A, three times from one address, across the canonical and alias paths.
    for path in [
        "/oauth2/introspect",
        "/api/v1/token/introspect",
        "/api/v1/token/revoke",
    ] {
        let res = manage(&id, path, one, &client_a, "nonsense").await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
    // Past the caller's limit: refused, on any of the paths.
    for path in ["/oauth2/revoke", "/api/v1/token/introspect"] {
        let res = manage(&id, path, two, &client_a, &token_a).await;
        assert_eq!(res.status, 429, "{path}: {}", res.body);
        assert_eq!(res.json()["error"], "rate_limited");
        assert!(res.header("retry-after").is_some());
    }
    // Another caller (a bearer) from the first address is served until the address is spent
    // (five requests)...
    for path in ["/api/v1/token/introspect", "/oauth2/introspect"] {
        let res = manage(&id, path, one, &bearer_b, &token_a).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
    let spent = manage(&id, "/api/v1/token/introspect", one, &bearer_b, &token_a).await;
    assert_eq!(spent.status, 429, "{}", spent.body);
    assert_eq!(spent.json()["limit"], "ip");
    // ...and from another address until the bearer's own limit.
    let res = manage(&id, "/api/v1/token/revoke", two, &bearer_b, "nonsense").await;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = manage(&id, "/oauth2/introspect", two, &bearer_b, &token_a).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(res.json()["error"], "rate_limited");

    // The token endpoint keeps its own limits: the spent address still gets tokens, on both
    // paths.
    for path in ["/oauth2/token", "/api/v1/token"] {
        let res = id
            .api
            .http
            .send(
                id.api
                    .http
                    .request(reqwest::Method::POST, path)
                    .header("x-forwarded-for", one)
                    .basic_auth(&a.client_id, Some(&a.client_secret))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await
            .unwrap();
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn a_cancelled_credential_lookup_does_not_wedge_the_next_one() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Cancelled").await;
    let cache =
        identity::tokens::CredentialCache::new(id.app.core.db.clone(), Duration::from_millis(900));

    // The lookup waits for PostgreSQL while another session holds the table; it is
    // cancelled (its future dropped) by a timeout.
    let lock = env.db.client().await.unwrap();
    lock.batch_execute("BEGIN; LOCK TABLE identity.clients IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), cache.get(&w.cred.client_id)).await;
    assert!(
        cancelled.is_err(),
        "the lookup should have waited for the lock"
    );
    lock.batch_execute("ROLLBACK").await.unwrap();

    // The next lookup of that client is answered.
    let row = tokio::time::timeout(Duration::from_secs(5), cache.get(&w.cred.client_id))
        .await
        .expect("the lookup after a cancelled one is wedged")
        .unwrap()
        .expect("the client exists");
    assert_eq!(row.client_id, w.cred.client_id);
}

#[tokio::test]
async fn unknown_client_ids_are_cached_within_a_bound_of_size_and_age() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Known").await;
    let ttl = Duration::from_millis(300);
    let cache = identity::tokens::CredentialCache::new(id.app.core.db.clone(), ttl)
        .with_unknown_capacity(64);
    for i in 0..400 {
        assert!(
            cache
                .get(&format!("aidp_unknown{i}"))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(cache.get(&w.cred.client_id).await.unwrap().is_some());
    let sizes = cache.sizes();
    assert!(sizes.unknown <= 64, "{sizes:?}");
    assert_eq!(sizes.clients, 1, "{sizes:?}");
    // Past their age, unknown ids are dropped at the next miss.
    let emptied = testkit::eventually(Duration::from_secs(5), || async {
        cache.get("aidp_oneMore").await.unwrap();
        (cache.sizes().unknown <= 1).then_some(())
    })
    .await;
    assert!(emptied.is_some(), "{:?}", cache.sizes());
}
