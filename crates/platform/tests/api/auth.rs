//! What the verifier accepts: access tokens (`typ: at+jwt`) for this API alone, signed by a
//! key the JWKS still publishes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use platform::app::Core;
use platform::auth::{BoxFuture, JwksSource, Verifier};
use platform::config::{ServiceKind, read_common};
use serde_json::json;
use testkit::{TestEnv, eventually};
use uuid::Uuid;

use crate::support::{ISSUER, Issuer, revocations_loaded, spawn};

#[tokio::test]
async fn only_access_tokens_for_this_api_are_accepted() {
    let env = TestEnv::new().await.unwrap();
    let app = spawn(&env, &[]).await;
    revocations_loaded(&app).await;
    let issuer = &app.state;
    let tenant = Uuid::new_v4();
    let claims = Issuer::claims(tenant, "agents:read");
    let status = |token: String| {
        let client = app.client.clone();
        async move {
            client
                .get_auth("/api/v1/scoped", &token)
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(status(issuer.signed("at+jwt", &claims)).await, 200);
    assert_eq!(
        status(issuer.signed("application/at+jwt", &claims)).await,
        200
    );
    // Other JWTs of the same issuer and key: an audit checkpoint, a plain JWT.
    for typ in ["JWT", "audit-checkpoint+jwt", "jwt", ""] {
        assert_eq!(
            status(issuer.signed(typ, &claims)).await,
            401,
            "typ {typ:?}"
        );
    }
    // A token for a resource server, or for it and this API at once.
    for aud in [
        json!("https://docs.example/api"),
        json!([ISSUER, "https://docs.example/api"]),
    ] {
        let mut c = claims.clone();
        c["aud"] = aud.clone();
        assert_eq!(status(issuer.signed("at+jwt", &c)).await, 401, "aud {aud}");
    }
    let mut listed = claims.clone();
    listed["aud"] = json!([ISSUER]);
    assert_eq!(status(issuer.signed("at+jwt", &listed)).await, 200);
}

/// A key source whose set the test changes, counting its fetches.
struct Switchable {
    set: Mutex<Option<JwkSet>>,
    fetches: AtomicUsize,
}

impl JwksSource for Switchable {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let set = self.set.lock().unwrap().clone();
        Box::pin(async move { set.ok_or_else(|| anyhow::anyhow!("the key source is down")) })
    }
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_verifying_without_a_restart() {
    let env = TestEnv::new().await.unwrap();
    let core = Core::new(read_common(&env.env(), ServiceKind::Marketplace).unwrap()).unwrap();
    let issuer = Issuer::new();
    let source = Arc::new(Switchable {
        set: Mutex::new(Some(issuer.jwks().clone())),
        fetches: AtomicUsize::new(0),
    });
    let verifier = Verifier::new(
        ISSUER.to_owned(),
        ISSUER.to_owned(),
        source.clone(),
        core.redis.clone(),
        None,
    )
    .with_key_ttl(Duration::from_millis(100));
    let token = issuer.token(Uuid::new_v4(), "agents:read");
    assert!(verifier.decode(&token).await.is_ok());

    // While the source cannot be read, the keys it gave last keep verifying.
    *source.set.lock().unwrap() = None;
    let fetched = source.fetches.load(Ordering::SeqCst);
    let retried = eventually(Duration::from_secs(5), || async {
        let ok = verifier.decode(&token).await.is_ok();
        (source.fetches.load(Ordering::SeqCst) > fetched).then_some(ok)
    })
    .await
    .expect("the expired set is fetched again");
    assert!(retried, "a failed fetch keeps the last key set");

    // Once the source publishes a set without the key, the key stops verifying.
    *source.set.lock().unwrap() = Some(JwkSet { keys: Vec::new() });
    let refused = eventually(Duration::from_secs(5), || async {
        verifier.decode(&token).await.err()
    })
    .await
    .expect("the removed key is refused");
    assert!(refused.to_string().contains("unknown key"), "{refused}");
}
