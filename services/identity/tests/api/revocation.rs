//! Suspension, decommissioning and credential revocation take effect at once on the instance
//! that handled them and within a second on another instance sharing the database and Redis.

use std::time::{Duration, Instant};

use testkit::{TestEnv, eventually};

use crate::helpers::{Identity, count, spawn, world};

/// Waits (at most 1 s) until `path` with `token` answers 401 on `other`; returns how long.
async fn rejected_within_a_second(other: &Identity, token: &str) -> Duration {
    let start = Instant::now();
    let done = eventually(Duration::from_secs(1), || async {
        let r = other
            .api
            .http
            .get_auth("/api/v1/agents", token)
            .await
            .ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "token still accepted on the second instance after 1 s"
    );
    start.elapsed()
}

#[tokio::test]
async fn suspension_stops_tokens_on_both_instances() {
    let env = TestEnv::new().await.unwrap();
    let a = spawn(&env, &[]).await;
    let b = spawn(&env, &[]).await;
    let w = world(&a, "Suspend").await;
    let token = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    // B has looked the credential up and cached it.
    let before = b
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    assert_eq!(
        b.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        200
    );

    let res = a
        .api
        .post_empty(
            &format!("/api/v1/agents/{}/suspend", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    // At once on A.
    assert_eq!(
        a.api
            .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
            .await
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );
    // Within a second on B: verification, introspection and new tokens.
    rejected_within_a_second(&b, &token).await;
    rejected_within_a_second(&b, &before).await;
    let t = &w.tenant;
    assert_eq!(
        b.api
            .introspect(&t.client_id, &t.client_secret, &token)
            .await
            .unwrap()["active"],
        false
    );
    let refused = eventually(Duration::from_secs(1), || async {
        let r = b
            .api
            .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
            .await
            .ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "B still issues tokens to a suspended agent"
    );

    // Reactivation: new tokens work at once, the old ones stay revoked.
    a.api
        .post_empty(
            &format!("/api/v1/agents/{}/reactivate", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    let fresh = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &fresh)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        b.api
            .http
            .get_auth("/api/v1/agents", &fresh)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );
}

#[tokio::test]
async fn revoked_credential_and_decommissioned_agent_lose_their_tokens() {
    let env = TestEnv::new().await.unwrap();
    let a = spawn(&env, &[]).await;
    let b = spawn(&env, &[]).await;
    let w = world(&a, "Revoke").await;
    let token = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    b.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let res = a
        .api
        .delete(
            &format!("/api/v1/agents/{}/credentials/{}", w.agent_id(), w.cred.id),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "revoked");
    assert_eq!(
        a.api
            .token_response(&w.cred.client_id, &w.cred.client_secret, &[])
            .await
            .unwrap()
            .status,
        401
    );
    rejected_within_a_second(&b, &token).await;

    // A second credential, then decommission: everything stops.
    let c2 = a
        .api
        .create_credential(&w.admin, w.agent_id(), &serde_json::json!({}))
        .await
        .unwrap();
    let t2 = b.api.token(&c2.client_id, &c2.client_secret).await.unwrap();
    a.api
        .delete(&format!("/api/v1/agents/{}", w.agent_id()), &w.admin)
        .await
        .unwrap();
    rejected_within_a_second(&b, &t2).await;
    let refused = eventually(Duration::from_secs(1), || async {
        let r = b
            .api
            .token_response(&c2.client_id, &c2.client_secret, &[])
            .await
            .ok()?;
        (r.status == 401).then_some(())
    })
    .await;
    assert!(refused.is_some());
}

#[tokio::test]
async fn revocations_survive_a_redis_that_lost_its_data() {
    let env = TestEnv::new().await.unwrap();
    let mut redis = testkit::PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let a = spawn(&env, &[("REDIS_URL", &url)]).await;
    let w = world(&a, "Amnesia").await;
    let token = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    a.api
        .post_empty(
            &format!("/api/v1/agents/{}/suspend", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );

    // Redis restarts empty: PostgreSQL answers until Redis is reloaded, then Redis again.
    redis.restart().await.unwrap();
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );
    let reloaded = eventually(Duration::from_secs(5), || async {
        let c = platform::redis::Redis::new(&a.app.core.config.redis).ok()?;
        let key = platform::auth::keys::loaded(&c);
        let v: Option<i64> = c
            .run(|mut conn| async move {
                platform::redis::redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
            })
            .await
            .ok()?;
        v.map(|_| ())
    })
    .await;
    assert!(
        reloaded.is_some(),
        "revocations were not reloaded into redis"
    );
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );
    // With Redis gone entirely, revocation is still enforced (PostgreSQL fallback).
    redis.stop();
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &token)
            .await
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        a.api
            .http
            .get_auth("/api/v1/agents", &w.admin)
            .await
            .unwrap()
            .status,
        200
    );
}

/// A verifier that reads revocations from Redis only, as another service's does while
/// identity is healthy: no PostgreSQL to fall back to.
fn redis_only_verifier(id: &Identity) -> platform::auth::Verifier {
    let jwks = format!("{}/.well-known/jwks.json", id.app.base_url);
    platform::auth::Verifier::new(
        id.app.state.config.issuer(),
        id.app.state.config.issuer(),
        std::sync::Arc::new(platform::auth::HttpJwks::new(
            jwks.parse().unwrap(),
            reqwest::Client::new(),
        )),
        platform::redis::Redis::new(&id.app.core.config.redis).unwrap(),
        None,
    )
}

#[tokio::test]
async fn a_revocation_made_while_redis_is_paused_reaches_redis_once_it_answers() {
    let env = TestEnv::new().await.unwrap();
    let redis = testkit::PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let a = spawn(&env, &[("REDIS_URL", &url), ("REDIS_TIMEOUT_MS", "200")]).await;
    let w = world(&a, "Blip").await;
    let token = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let elsewhere = redis_only_verifier(&a);
    assert!(elsewhere.verify(&token).await.is_ok());

    redis.pause().unwrap();
    // A request waits out the Redis timeout: identity now knows Redis is down.
    let down = eventually(Duration::from_secs(3), || async {
        a.api.http.get_auth("/api/v1/agents", &w.admin).await.ok()?;
        (!a.app.core.redis.is_up()).then_some(())
    })
    .await;
    assert!(down.is_some(), "identity did not notice the paused redis");
    let res = a
        .api
        .post_empty(
            &format!("/api/v1/agents/{}/suspend", w.agent_id()),
            &w.admin,
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    // Identity itself refuses the token at once, from PostgreSQL.
    let here = a.api.http.get_auth("/api/v1/agents", &token).await.unwrap();
    assert_eq!(here.status, 401);

    redis.resume().unwrap();
    let refused = eventually(Duration::from_secs(1), || async {
        matches!(
            elsewhere.verify(&token).await,
            Err(platform::auth::AuthError::Revoked)
        )
        .then_some(())
    })
    .await;
    assert!(
        refused.is_some(),
        "a verifier reading redis still accepts the token 1 s after redis answers"
    );
    let repaid = eventually(Duration::from_secs(2), || async {
        (count(
            &env,
            "identity.revocation_mirror WHERE dirty_since IS NOT NULL",
        )
        .await
            == 0)
            .then_some(())
    })
    .await;
    assert!(repaid.is_some(), "the recorded repair was never cleared");
}
