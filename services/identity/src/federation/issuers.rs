//! External issuers' signing keys: found through OpenID Connect discovery
//! (`<issuer>/.well-known/openid-configuration` → `jwks_uri`), fetched through the same
//! guard against server-side request forgery as webhook deliveries (no private, loopback or
//! link-local address unless `FEDERATION_ALLOWED_NETWORKS` admits it; `https` only outside
//! those networks; no redirects; bounded time and size), and cached per issuer
//! ([`KeySet`]: refreshed on an unknown `kid` at most once a second, and every
//! [`KEY_CACHE_TTL`]).
//!
//! Only issuers named by a trust policy are ever fetched: the exchange looks the issuer up
//! among the policies before it asks for keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use platform::auth::keyset::KeySet;
use platform::auth::{BoxFuture, JwksSource, KEY_CACHE_TTL};
use platform::net::Cidr;
use serde::Deserialize;

use crate::webhooks::guard::{GuardedResolver, TargetPolicy};

/// Longest wait for an issuer's discovery document or key set.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or key set read.
const MAX_BODY: usize = 256 * 1024;
/// Issuers kept; beyond, the cache starts afresh (only issuers of policies get here).
const MAX_ISSUERS: usize = 10_000;

/// Whether `url` is one the fetches may use without TLS: `http` to an IP address (or
/// `localhost`) inside `allowed` (`FEDERATION_ALLOWED_NETWORKS`). Everything else must be
/// `https`. Checked when an issuer or `jwks_uri` is saved; the guard checks again, with
/// name resolution, on every fetch.
pub fn plain_http_allowed(url: &reqwest::Url, allowed: &[Cidr]) -> bool {
    url.scheme() == "http"
        && url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .map(|h| if h == "localhost" { "127.0.0.1" } else { h })
            .and_then(|h| h.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| allowed.iter().any(|c| c.contains(ip)))
}

/// Fetches JSON through the guard.
#[derive(Debug, Clone)]
struct Fetcher {
    client: reqwest::Client,
    guard: Arc<TargetPolicy>,
}

impl Fetcher {
    async fn json<T: serde::de::DeserializeOwned>(&self, raw: &str) -> anyhow::Result<T> {
        let url = self
            .guard
            .check_url(raw)
            .await
            .map_err(|e| anyhow::anyhow!("{raw}: {e}"))?;
        self.guard
            .check_literal(&url)
            .map_err(|e| anyhow::anyhow!("{raw}: {e}"))?;
        let mut res = self.client.get(url).send().await?;
        anyhow::ensure!(res.status().is_success(), "{raw} answered {}", res.status());
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            body.extend_from_slice(&chunk);
            anyhow::ensure!(
                body.len() <= MAX_BODY,
                "{raw} is larger than {MAX_BODY} bytes"
            );
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// One issuer's keys, through its discovery document.
struct Discovery {
    issuer: String,
    fetch: Fetcher,
}

impl JwksSource for Discovery {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        Box::pin(async move {
            let doc: DiscoveryDocument = self
                .fetch
                .json(&format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                ))
                .await?;
            anyhow::ensure!(
                doc.issuer == self.issuer,
                "the discovery document names another issuer ({})",
                doc.issuer
            );
            self.fetch.json(&doc.jwks_uri).await
        })
    }
}

/// A key set at a known address (a client's `jwks_uri`).
struct Direct {
    uri: String,
    fetch: Fetcher,
}

impl JwksSource for Direct {
    fn fetch(&self) -> BoxFuture<'_, anyhow::Result<JwkSet>> {
        Box::pin(async move { self.fetch.json(&self.uri).await })
    }
}

/// The key sets of the external issuers (and of clients' `jwks_uri`); cheap to clone.
#[derive(Clone)]
pub struct Issuers {
    sets: Arc<Mutex<HashMap<String, Arc<KeySet>>>>,
    fetch: Fetcher,
}

impl std::fmt::Debug for Issuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuers").finish_non_exhaustive()
    }
}

impl Issuers {
    /// Issuers reachable on public addresses and in `allowed`.
    pub fn new(allowed: Vec<Cidr>) -> anyhow::Result<Self> {
        let guard = Arc::new(TargetPolicy::new(allowed).resolving_within(FETCH_TIMEOUT));
        let client = reqwest::Client::builder()
            .dns_resolver(GuardedResolver(guard.clone()))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .user_agent(concat!("AgentIdP-Federation/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            sets: Arc::default(),
            fetch: Fetcher { client, guard },
        })
    }

    /// The key set of `issuer` (created on first use, fetched when asked for a key).
    pub fn keys(&self, issuer: &str) -> Arc<KeySet> {
        self.set(issuer, || {
            Arc::new(Discovery {
                issuer: issuer.to_owned(),
                fetch: self.fetch.clone(),
            })
        })
    }

    /// The key set published at `uri` (a private_key_jwt client's `jwks_uri`), through the
    /// same guard.
    pub fn jwks_at(&self, uri: &str) -> Arc<KeySet> {
        self.set(&format!("jwks_uri {uri}"), || {
            Arc::new(Direct {
                uri: uri.to_owned(),
                fetch: self.fetch.clone(),
            })
        })
    }

    fn set(&self, name: &str, source: impl FnOnce() -> Arc<dyn JwksSource>) -> Arc<KeySet> {
        let issuer = name;
        let mut sets = self
            .sets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = sets.get(issuer) {
            return s.clone();
        }
        if sets.len() >= MAX_ISSUERS {
            sets.clear();
        }
        let set = Arc::new(KeySet::new(source(), KEY_CACHE_TTL));
        sets.insert(issuer.to_owned(), set.clone());
        set
    }
}
