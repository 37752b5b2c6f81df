//! The client address per-IP limits count: `X-Forwarded-For` is believed only from a
//! configured proxy (none by default), and an IPv6 client is its /64.

use testkit::{TestApp, TestEnv, TestResponse};

use crate::support::{LIMITED, State, spawn};

async fn from(app: &TestApp<State>, forwarded_for: &str) -> TestResponse {
    app.client
        .send(
            app.client
                .request(reqwest::Method::GET, LIMITED)
                .header("x-forwarded-for", forwarded_for),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_a_proxy_is_configured() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &[("RATE_LIMIT_MAX_REQUESTS", "2")]).await;
    // The peer (loopback) is no proxy by default: every forged address is the peer's.
    assert_eq!(from(&app, "198.51.100.1").await.status, 200);
    assert_eq!(from(&app, "198.51.100.2").await.status, 200);
    let res = from(&app, "198.51.100.3").await;
    assert_eq!(res.status, 429, "{}", res.body);
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(
        &env,
        &[
            ("RATE_LIMIT_MAX_REQUESTS", "2"),
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    // Two addresses of one /64 share its limit...
    assert_eq!(from(&app, "2001:db8:1:2::1").await.status, 200);
    assert_eq!(
        from(&app, "2001:db8:1:2:ffff:ffff:ffff:fffe").await.status,
        200
    );
    let res = from(&app, "2001:db8:1:2::3").await;
    assert_eq!(res.status, 429, "{}", res.body);
    // ...while the next /64, and an IPv4 client behind the proxy, have their own.
    assert_eq!(from(&app, "2001:db8:1:3::1").await.status, 200);
    assert_eq!(from(&app, "198.51.100.7").await.status, 200);
    assert_eq!(from(&app, "198.51.100.8").await.status, 200);
}
