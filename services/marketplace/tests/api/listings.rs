//! Listings follow agents: registration, suspension, unlisting, decommissioning, renames.

use serde_json::json;
use testkit::eventually;

use crate::helpers::{Stack, WITHIN, agent, search, shows};

#[tokio::test]
async fn a_listing_appears_within_2s_of_registration_and_disappears_within_2s_of_suspension() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Lifecycle Labs").await;
    // Cached before the agent exists: the cache must notice the new listing.
    assert!(search(&s.market, "q=zanzibar").await.json()["data"] == json!([]));

    let id = s
        .register(&p, "Zanzibar Ledger Reconciler", json!({}))
        .await;
    assert!(
        shows(&s.market, "q=zanzibar", &id, true).await,
        "not listed within 2 s of registration"
    );

    s.lifecycle(&p, &id, "suspend").await;
    assert!(
        shows(&s.market, "q=zanzibar", &id, false).await,
        "still listed 2 s after suspension"
    );
    let detail = s
        .market
        .client
        .get(&format!("/api/v1/marketplace/agents/{id}"))
        .await
        .unwrap();
    assert_eq!(detail.status, 404);

    s.lifecycle(&p, &id, "reactivate").await;
    assert!(
        shows(&s.market, "q=zanzibar", &id, true).await,
        "reactivation did not restore it"
    );
}

#[tokio::test]
async fn unlisting_relisting_and_decommissioning_follow_within_2s() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Listing Labs").await;
    let id = s
        .register(&p, "Tamarind Claim Screener", json!({"tags": ["tamarind"]}))
        .await;
    assert!(shows(&s.market, "tag=tamarind", &id, true).await);

    s.patch(&p, &id, json!({"listed": false})).await;
    assert!(
        shows(&s.market, "tag=tamarind", &id, false).await,
        "unlisting did not remove it"
    );
    s.patch(&p, &id, json!({"listed": true})).await;
    assert!(
        shows(&s.market, "tag=tamarind", &id, true).await,
        "relisting did not restore it"
    );
    // An edit shows too.
    s.patch(&p, &id, json!({"name": "Tamarind Claim Screener Pro"}))
        .await;
    assert!(shows(&s.market, "q=%22claim+screener+pro%22", &id, true).await);

    let res = s
        .api
        .delete(&format!("/api/v1/agents/{id}"), &p.admin)
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        shows(&s.market, "tag=tamarind", &id, false).await,
        "decommissioning did not remove it"
    );
}

#[tokio::test]
async fn an_unlisted_agent_never_appears() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Quiet Labs").await;
    let hidden = s
        .register(&p, "Hidden Kumquat Router", json!({"listed": false}))
        .await;
    let shown = s.register(&p, "Shown Kumquat Router", json!({})).await;
    assert!(shows(&s.market, "q=kumquat", &shown, true).await);
    s.caught_up().await;
    let res = search(&s.market, "q=kumquat").await;
    assert!(!res.body.contains(&hidden), "{}", res.body);
}

#[tokio::test]
async fn the_detail_shows_the_did_document_and_the_agent_card_link() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Detail Labs").await;
    let body = agent(
        "Reads mangrove survey sheets.",
        json!({"tags": ["survey"], "capabilities": ["surveys:read"], "owner": "ops@detail.example"}),
    );
    let id = s.register(&p, "Mangrove Survey Extractor", body).await;
    let path = format!("/api/v1/marketplace/agents/{id}");
    let res = eventually(WITHIN, || async {
        let r = s.market.client.get(&path).await.ok()?;
        (r.status == 200).then_some(r)
    })
    .await
    .expect("the listing's detail appears");
    let v = res.json();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["name"], "Mangrove Survey Extractor");
    assert_eq!(v["publisher"], "Detail Labs");
    assert_eq!(v["capabilities"], json!(["surveys:read"]));
    assert!(v.get("owner").is_none(), "the owner is not public: {v}");
    let did = v["did"].as_str().unwrap();
    assert_eq!(did, format!("did:web:localhost%3A8080:agents:{id}"));
    let doc = &v["did_document"];
    assert_eq!(doc["id"], did);
    assert_eq!(doc["verificationMethod"][0]["controller"], did);
    assert_eq!(doc["verificationMethod"][0]["publicKeyJwk"]["crv"], "P-256");
    assert!(
        doc["verificationMethod"][0]["publicKeyJwk"]
            .get("d")
            .is_none()
    );
    assert_eq!(doc["authentication"][0], doc["verificationMethod"][0]["id"]);
    assert_eq!(
        v["links"]["agent_card"],
        format!("http://localhost:8080/agents/{id}/.well-known/agent-card.json")
    );
    assert_eq!(v["links"]["self"], format!("http://localhost:8080{path}"));
    // The same document identity serves.
    let served = s
        .identity
        .client
        .get(&format!("/agents/{id}/did.json"))
        .await
        .unwrap();
    assert_eq!(served.json(), *doc);

    for missing in [
        "/api/v1/marketplace/agents/0190f5e2-0000-7000-8000-000000000000",
        "/api/v1/marketplace/agents/not-a-uuid",
    ] {
        let r = s.market.client.get(missing).await.unwrap();
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
}

#[tokio::test]
async fn renaming_a_tenant_renames_its_listings() {
    let s = Stack::start(&[]).await;
    let p = s.publisher("Old Name Labs").await;
    let id = s.register(&p, "Pomelo Order Router", json!({})).await;
    assert!(shows(&s.market, "publisher=old+name+labs", &id, true).await);
    let res = s
        .api
        .patch(
            &format!("/api/v1/tenants/{}", p.tenant.id),
            &p.admin,
            &json!({"name": "New Name Labs"}),
        )
        .await
        .unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(shows(&s.market, "publisher=New+Name+Labs", &id, true).await);
    assert!(shows(&s.market, "publisher=Old+Name+Labs", &id, false).await);
}
