//! W3C DIDs (`did:web`) for agents and for this deployment.
//!
//! An agent's DID is `did:web:<PUBLIC_URL host>:agents:<id>` (a port is written `%3A<port>`,
//! as did:web requires), resolved at `<PUBLIC_URL>/agents/<id>/did.json`. Its verification
//! method is the agent's own P-256 key, made at registration, private part sealed with
//! `KEY_ENCRYPTION_KEY`. The deployment's DID is `did:web:<host>`, served at
//! `/.well-known/did.json` with the token signing keys as verification methods.

use reqwest::Url;
use uuid::Uuid;

use crate::crypto::Kek;
use crate::keys::signer::{Alg, SigningKey, generate_pkcs8};

/// `host` or `host%3Aport` of the public URL.
pub fn host_part(public_url: &Url) -> String {
    let host = public_url.host_str().unwrap_or("localhost");
    match public_url.port() {
        Some(p) => format!("{host}%3A{p}"),
        None => host.to_owned(),
    }
}

/// The deployment's DID.
pub fn instance_did(public_url: &Url) -> String {
    format!("did:web:{}", host_part(public_url))
}

/// An agent's DID.
pub fn agent_did(public_url: &Url, id: Uuid) -> String {
    format!("did:web:{}:agents:{id}", host_part(public_url))
}

/// A new DID key for `agent`: its public JWK (without `alg` and `use`) and its private
/// part, sealed with `kek`.
pub fn new_agent_key(kek: &Kek, agent: Uuid) -> anyhow::Result<(serde_json::Value, Vec<u8>)> {
    let der = generate_pkcs8(Alg::Es256)?;
    let key = SigningKey::from_der(Alg::Es256, &der, time::OffsetDateTime::now_utc())?;
    let mut jwk = key.public_jwk.clone();
    if let Some(o) = jwk.as_object_mut() {
        o.remove("alg");
        o.remove("use");
    }
    let sealed = kek.seal(format!("did:{agent}").as_bytes(), &der)?;
    Ok((jwk, sealed))
}

pub use domain::did::document;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_encodes_ports() {
        let u = Url::parse("http://localhost:8080").unwrap();
        assert_eq!(instance_did(&u), "did:web:localhost%3A8080");
        let id = Uuid::nil();
        assert_eq!(
            agent_did(&Url::parse("https://idp.example.com/").unwrap(), id),
            format!("did:web:idp.example.com:agents:{id}")
        );
    }
}
