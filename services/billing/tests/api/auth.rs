//! Bearer tokens outside identity: verified locally against identity's JWKS, revocations
//! read from Redis, and from identity while Redis is down.

use testkit::{PrivateRedis, TestEnv};

use crate::helpers::stack;

#[tokio::test]
async fn a_redis_outage_neither_refuses_callers_nor_admits_revoked_tokens() {
    let env = TestEnv::new().await.unwrap();
    let mut redis = PrivateRedis::start().await.unwrap();
    let url = redis.url();
    let s = stack(&env, &[("REDIS_URL", url.as_str())]).await;
    let a = s.account("Outage Co").await;
    let doomed = s.id_api.admin_token(&a.tenant).await.unwrap();
    let c = &s.billing.client;
    assert_eq!(
        c.get_auth("/api/v1/billing/subscription", &a.token)
            .await
            .unwrap()
            .status,
        200
    );

    redis.stop();
    let res = c
        .get_auth("/api/v1/billing/subscription", &a.token)
        .await
        .unwrap();
    assert_eq!(
        res.status, 200,
        "a valid token is served while Redis is down: {}",
        res.body
    );

    // Revoked while Redis is down: identity records it in PostgreSQL, and billing asks.
    let revoke = s
        .identity
        .client
        .request(reqwest::Method::POST, "/oauth2/revoke")
        .basic_auth(&a.tenant.client_id, Some(&a.tenant.client_secret))
        .form(&[("token", doomed.as_str())]);
    assert_eq!(s.identity.client.send(revoke).await.unwrap().status, 200);
    let res = c
        .get_auth("/api/v1/billing/subscription", &doomed)
        .await
        .unwrap();
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(
        c.get_auth("/api/v1/billing/subscription", &a.token)
            .await
            .unwrap()
            .status,
        200
    );
}
