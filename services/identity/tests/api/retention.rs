//! Audit retention: old events leave behind a signed checkpoint, the rest of the chain still
//! verifies, and the checkpoint verifies with the published JWKS alone, also after the
//! signing key rotates.

use serde_json::Value;
use testkit::TestEnv;
use time::OffsetDateTime;

use crate::helpers::{Identity, count, spawn, world};

async fn jwks(id: &Identity) -> jsonwebtoken::jwk::JwkSet {
    serde_json::from_str(
        &id.app
            .client
            .get("/.well-known/jwks.json")
            .await
            .unwrap()
            .body,
    )
    .unwrap()
}

/// Verifies a checkpoint JWT the way an outside auditor would: header kid → JWKS key.
fn verify_with_jwks(set: &jsonwebtoken::jwk::JwkSet, jwt: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("audit-checkpoint+jwt") {
        return Err(format!("typ {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or_else(|| format!("{kid} not published"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.set_required_spec_claims::<&str>(&[]);
    jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

async fn retention(
    id: &Identity,
    before: OffsetDateTime,
) -> identity::audit::checkpoint::RetentionOutcome {
    let s = &id.app.state;
    identity::audit::checkpoint::run_retention(&s.core.db, &s.keys, &s.config.issuer(), before)
        .await
        .unwrap()
}

async fn report(id: &Identity, admin: &str) -> Value {
    let res = id
        .app
        .client
        .get_auth("/api/v1/audit/verify", admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

#[tokio::test]
async fn retention_leaves_a_verifiable_chain_behind_a_signed_checkpoint() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Retention").await;
    let old = count(
        &env,
        &format!("identity.audit_events WHERE tenant_id = '{}'", w.tenant.id),
    )
    .await;
    let horizon = OffsetDateTime::now_utc();
    for _ in 0..3 {
        id.api
            .token(&w.cred.client_id, &w.cred.client_secret)
            .await
            .unwrap();
    }

    let outcome = retention(&id, horizon).await;
    assert!(outcome.removed >= old as u64, "{outcome:?}");
    assert!(outcome.checkpoints >= 1);
    let left = count(
        &env,
        &format!("identity.audit_events WHERE tenant_id = '{}'", w.tenant.id),
    )
    .await;
    assert_eq!(left, 3, "only the young events stay");

    let r = report(&id, &w.admin).await;
    assert_eq!(r["valid"], true, "{r}");
    assert_eq!(r["checked"], 3);
    assert_eq!(r["checkpoint"]["chain_seq"], old);

    let res = id
        .app
        .client
        .get_auth("/api/v1/audit/checkpoints", &w.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200);
    let cps = res.json()["data"].as_array().unwrap().clone();
    assert_eq!(cps.len(), 1);
    let claims = verify_with_jwks(&jwks(&id).await, cps[0]["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(claims["tenant_id"], w.tenant.id.as_str());
    assert_eq!(claims["chain_seq"], old);
    assert_eq!(claims["hash"], cps[0]["hash"]);
    assert_eq!(claims["iss"], "http://localhost:8080");

    // The next event's link points at the checkpoint's hash.
    let first_left: Vec<u8> = env
        .db
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT prev_hash FROM identity.audit_events WHERE tenant_id = $1::text::uuid
              ORDER BY chain_seq LIMIT 1",
            &[&w.tenant.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(hex::encode(first_left), cps[0]["hash"].as_str().unwrap());

    // Retention never removes young events, and the database refuses a delete without the
    // retention horizon.
    assert_eq!(retention(&id, horizon).await.removed, 0);
    let err = env
        .db
        .client()
        .await
        .unwrap()
        .execute(
            "DELETE FROM identity.audit_events WHERE tenant_id = $1::text::uuid",
            &[&w.tenant.id],
        )
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("append-only"), "{err:?}");
}

#[tokio::test]
async fn checkpoints_are_resigned_when_the_key_rotates_and_forgeries_are_caught() {
    let env = TestEnv::new().await.unwrap();
    let id = spawn(&env, &[]).await;
    let w = world(&id, "Resign").await;
    let horizon = OffsetDateTime::now_utc();
    id.api
        .token(&w.cred.client_id, &w.cred.client_secret)
        .await
        .unwrap();
    retention(&id, horizon).await;
    let first_kid = {
        let res = id
            .app
            .client
            .get_auth("/api/v1/audit/checkpoints", &w.admin)
            .await
            .unwrap();
        res.json()["data"][0]["kid"].as_str().unwrap().to_owned()
    };

    let s = &id.app.state;
    let (new_kid, _) = identity::keys::rotate_now(&s.core.db, &s.kek, &s.config.keys)
        .await
        .unwrap();
    assert_ne!(new_kid, first_kid);
    s.keys.reload().await.unwrap();
    let outcome = retention(&id, horizon).await;
    assert!(outcome.resigned >= 1, "{outcome:?}");
    let res = id
        .app
        .client
        .get_auth("/api/v1/audit/checkpoints", &w.admin)
        .await
        .unwrap();
    let cp = res.json()["data"][0].clone();
    assert_eq!(cp["kid"], new_kid.as_str());
    verify_with_jwks(&jwks(&id).await, cp["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(report(&id, &w.admin).await["valid"], true);

    // A checkpoint signed by anyone else does not verify.
    let forged = {
        let der = identity::keys::generate_pkcs8(identity::keys::Alg::Es256).unwrap();
        let key = identity::keys::SigningKey::from_der(identity::keys::Alg::Es256, &der, horizon)
            .unwrap();
        let payload = cp["jwt"].as_str().unwrap().split('.').nth(1).unwrap();
        let payload = identity::crypto::b64url_decode(payload).unwrap();
        key.sign_typed("audit-checkpoint+jwt", &payload).unwrap()
    };
    env.db
        .client()
        .await
        .unwrap()
        .execute(
            "UPDATE identity.audit_checkpoints SET jwt = $2 WHERE tenant_id = $1::text::uuid",
            &[&w.tenant.id, &forged],
        )
        .await
        .unwrap();
    let r = report(&id, &w.admin).await;
    assert_eq!(r["valid"], false);
    assert_eq!(r["first_broken"]["reason"], "checkpoint_invalid");

    // The statement itself cannot be changed.
    let err = env
        .db
        .client()
        .await
        .unwrap()
        .execute(
            "UPDATE identity.audit_checkpoints SET chain_seq = chain_seq + 1 WHERE tenant_id = $1::text::uuid",
            &[&w.tenant.id],
        )
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("immutable"), "{err:?}");
}
