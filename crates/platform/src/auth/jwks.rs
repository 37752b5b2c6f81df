//! Where signing keys come from, and which algorithm each key verifies.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;

use crate::future::BoxFuture;

/// Where a verifier gets signing keys.
pub trait JwksSource: Send + Sync + 'static {
    /// The current key set.
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>>;
}

/// Fetches `<IDENTITY_URL>/.well-known/jwks.json`.
#[derive(Debug, Clone)]
pub struct HttpJwks {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl HttpJwks {
    /// A source reading `url` with `client`.
    pub fn new(url: reqwest::Url, client: reqwest::Client) -> Self {
        Self { url, client }
    }
}

impl JwksSource for HttpJwks {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        Box::pin(async move {
            let res = self.client.get(self.url.clone()).send().await?;
            anyhow::ensure!(res.status().is_success(), "JWKS answered {}", res.status());
            Ok(res.json::<JwkSet>().await?)
        })
    }
}

/// The algorithm of a published key, when it is one this crate accepts.
pub fn jwk_alg(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}
