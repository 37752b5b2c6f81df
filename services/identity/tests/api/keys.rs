//! Signing keys: algorithms, scheduled rotation across instances, import of a PEM pair.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::KeyPair as _;
use serde_json::Value;
use testkit::TestEnv;

use crate::helpers::{Identity, spawn, world};

fn alg_of(name: &str) -> jsonwebtoken::Algorithm {
    match name {
        "RS256" => jsonwebtoken::Algorithm::RS256,
        "EdDSA" => jsonwebtoken::Algorithm::EdDSA,
        _ => jsonwebtoken::Algorithm::ES256,
    }
}

/// Verifies `token` with the JWKS `set` (fails if its kid is not published).
fn verify(set: &jsonwebtoken::jwk::JwkSet, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&["http://localhost:8080"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

async fn jwks(id: &Identity) -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_str(
        &id.api
            .http
            .get("/.well-known/jwks.json")
            .await
            .unwrap()
            .body,
    )
    .unwrap()
}

#[tokio::test]
async fn rs256_and_eddsa_keys_sign_verifiable_tokens() {
    for alg in ["RS256", "EdDSA"] {
        let env = TestEnv::new().await.unwrap();
        let id = spawn(&env, &[("SIGNING_ALG", alg)]).await;
        let w = world(&id, alg).await;
        let token = id
            .api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, alg_of(alg));
        let claims = verify(&jwks(&id).await, &token).unwrap();
        assert_eq!(claims["sub"], w.agent_id());
        // The platform verifier accepts it too (management API).
        assert_eq!(
            id.api
                .http
                .get_auth("/api/v1/agents", &token)
                .await
                .unwrap()
                .status,
            200
        );
    }
}

#[tokio::test]
async fn rotation_across_two_instances_never_yields_an_unverifiable_token() {
    let env = TestEnv::new().await.unwrap();
    let fast = [
        ("SIGNING_KEY_ROTATION_INTERVAL_SECS", "3"),
        ("SIGNING_KEY_PUBLISH_LEAD_SECS", "1"),
        ("KEY_REFRESH_INTERVAL_MS", "100"),
    ];
    let a = spawn(&env, &fast).await;
    let b = spawn(&env, &fast).await;
    let w = world(&a, "Rotation").await;
    let mut kids = HashSet::new();
    let mut checked = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        for (issuer, other) in [(&a, &b), (&b, &a)] {
            let token = issuer
                .api
                .token(&w.cred.client_id, &w.cred.client_secret)
                .await
                .unwrap();
            // Both instances' published keys must verify it, right away.
            for published in [jwks(other).await, jwks(issuer).await] {
                verify(&published, &token)
                    .unwrap_or_else(|e| panic!("{e} after {:?}", start.elapsed()));
            }
            kids.insert(jsonwebtoken::decode_header(&token).unwrap().kid.unwrap());
            checked += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(kids.len() >= 2, "no rotation happened in 8 s ({kids:?})");
    assert!(checked > 20);
    // Both instances sign with the same key at any moment: the last tokens share a kid.
    let ta = a
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let tb = b
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let (ka, kb) = (
        jsonwebtoken::decode_header(&ta).unwrap().kid,
        jsonwebtoken::decode_header(&tb).unwrap().kid,
    );
    if ka != kb {
        // A rotation may fall between the two requests; then the next pair agrees.
        let ta = a
            .api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
        let tb = b
            .api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&ta).unwrap().kid,
            jsonwebtoken::decode_header(&tb).unwrap().kid
        );
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

#[tokio::test]
async fn the_original_products_pem_pair_is_imported() {
    let der = identity::keys::generate_pkcs8(identity::keys::Alg::Rs256).unwrap();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let public_der = pair.public_key().as_der().unwrap();
    // Single-line environment values carry literal \n sequences.
    let private_pem = pem("PRIVATE KEY", &der).replace('\n', "\\n");
    let public_pem = pem("PUBLIC KEY", public_der.as_ref());

    let env = TestEnv::new().await.unwrap();
    let id = spawn(
        &env,
        &[
            ("JWT_PRIVATE_KEY", &private_pem),
            ("JWT_PUBLIC_KEY", &public_pem),
        ],
    )
    .await;
    let w = world(&id, "Imported").await;
    let token = id
        .api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    // The original product's public key verifies our tokens.
    let original = jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["http://localhost:8080"]);
    assert!(jsonwebtoken::decode::<Value>(&token, &original, &v).is_ok());
    // Importing again (a restart) changes nothing.
    let again = spawn(
        &env,
        &[
            ("JWT_PRIVATE_KEY", &private_pem),
            ("JWT_PUBLIC_KEY", &public_pem),
        ],
    )
    .await;
    drop(again);
    let c = env.db.client().await.unwrap();
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM identity.signing_keys WHERE source = 'imported'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // A public key that is not the private key's is refused at start-up.
    let other = identity::keys::generate_pkcs8(identity::keys::Alg::Rs256).unwrap();
    let other_pub = aws_lc_rs::rsa::KeyPair::from_pkcs8(&other)
        .unwrap()
        .public_key()
        .as_der()
        .unwrap();
    let env2 = TestEnv::new().await.unwrap();
    let cfg = identity::Config::from_env(&crate::helpers::with(
        env2.env(),
        &[
            ("JWT_PRIVATE_KEY", &private_pem),
            ("JWT_PUBLIC_KEY", &pem("PUBLIC KEY", other_pub.as_ref())),
        ],
    ))
    .unwrap();
    let err = identity::build(cfg).await.unwrap_err();
    assert!(format!("{err:#}").contains("does not match"), "{err:#}");
}
