//! W3C DID documents, shared by identity (which serves them) and the projections that
//! show them (marketplace).

use serde_json::{Value, json};

/// A DID document for `did` with one `JsonWebKey2020` verification method per public JWK,
/// each usable for authentication and assertions. A key's `kid` names its fragment, else
/// `key-<n>`.
pub fn document(did: &str, keys: &[Value]) -> Value {
    let methods: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, jwk)| {
            let fragment = jwk
                .get("kid")
                .and_then(|k| k.as_str())
                .map_or_else(|| format!("key-{}", i + 1), str::to_owned);
            json!({
                "id": format!("{did}#{fragment}"),
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": jwk,
            })
        })
        .collect();
    let refs: Vec<Value> = methods.iter().map(|m| m["id"].clone()).collect();
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "verificationMethod": methods,
        "authentication": refs,
        "assertionMethod": refs,
    })
}
