//! Calls between services (`/internal/v1/...`).
//!
//! One `reqwest` client per application with connect and request timeouts. Calls carry a
//! service token obtained from identity with this service's `SERVICE_CLIENT_ID` /
//! `SERVICE_CLIENT_SECRET` (client_credentials, scope `internal`), cached and refreshed a
//! minute before it expires, and refreshed at once when a call answers 401. Idempotent calls
//! are retried on connection errors, timeouts, 429, 502, 503 and 504, at most
//! `INTERNAL_HTTP_RETRIES` times with exponential backoff; other calls are never retried.
//! Every call carries the W3C `traceparent` of the current span.
//!
//! Identity has no client of its own: it installs a [`TokenMinter`] that signs its service
//! tokens locally instead of calling its own token endpoint.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::InternalConfig;
use crate::secret::Secret;
use crate::telemetry;

/// Why an internal call failed.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// The target answered with an error status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// The status.
        status: u16,
        /// The body (truncated).
        body: String,
    },
    /// No answer (connection, timeout, decoding).
    #[error("calling {url}: {source}")]
    Transport {
        /// The URL called.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// No service token could be obtained.
    #[error("no service token: {0}")]
    Auth(String),
}

impl InternalError {
    /// The HTTP status, when the target answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

struct CachedToken {
    token: Secret<String>,
    refresh_at: Instant,
}

struct TokenSource {
    client_id: String,
    secret: Secret<String>,
}

/// Signs service tokens locally (identity, which issues them).
pub trait TokenMinter: Send + Sync + 'static {
    /// A fresh service token (scope `internal`) and its lifetime.
    fn mint(&self) -> anyhow::Result<(Secret<String>, Duration)>;
}

/// The internal HTTP client of one application.
#[derive(Clone)]
pub struct InternalHttp {
    client: reqwest::Client,
    identity_url: Url,
    billing_url: Url,
    retries: u32,
    token: Option<Arc<TokenSource>>,
    minter: Arc<OnceLock<Arc<dyn TokenMinter>>>,
    cached: Arc<tokio::sync::Mutex<Option<CachedToken>>>,
}

impl std::fmt::Debug for InternalHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalHttp")
            .field("identity_url", &self.identity_url.as_str())
            .field("billing_url", &self.billing_url.as_str())
            .field(
                "authenticated",
                &(self.token.is_some() || self.minter.get().is_some()),
            )
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

impl InternalHttp {
    /// Builds the client.
    pub fn new(cfg: &InternalConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2).min(cfg.timeout))
            .timeout(cfg.timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("agentidp-internal/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let token = match (&cfg.client_id, &cfg.client_secret) {
            (Some(id), Some(secret)) => Some(Arc::new(TokenSource {
                client_id: id.clone(),
                secret: secret.clone(),
            })),
            _ => None,
        };
        Ok(Self {
            client,
            identity_url: cfg.identity_url.clone(),
            billing_url: cfg.billing_url.clone(),
            retries: cfg.retries,
            token,
            minter: Arc::new(OnceLock::new()),
            cached: Arc::new(tokio::sync::Mutex::new(None)),
        })
    }

    /// Signs service tokens with `minter` from now on (identity); the first call wins.
    pub fn set_minter(&self, minter: Arc<dyn TokenMinter>) {
        let _ = self.minter.set(minter);
    }

    /// The underlying client (for calls that are not service-to-service, e.g. health probes).
    pub fn raw_client(&self) -> &reqwest::Client {
        &self.client
    }

    /// `IDENTITY_URL` joined with `path`.
    pub fn identity(&self, path: &str) -> Url {
        join(&self.identity_url, path)
    }

    /// `BILLING_URL` joined with `path`.
    pub fn billing(&self, path: &str) -> Url {
        join(&self.billing_url, path)
    }

    /// A valid service token, fetched or refreshed when needed.
    pub async fn service_token(&self) -> Result<Secret<String>, InternalError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        if let Some(minter) = self.minter.get() {
            let (token, lifetime) = minter
                .mint()
                .map_err(|e| InternalError::Auth(format!("minting a service token: {e:#}")))?;
            let margin = Duration::from_secs(60).min(lifetime / 5);
            *cached = Some(CachedToken {
                token: token.clone(),
                refresh_at: Instant::now() + lifetime.saturating_sub(margin),
            });
            return Ok(token);
        }
        let Some(src) = &self.token else {
            return Err(InternalError::Auth(
                "SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET are not set".into(),
            ));
        };
        let url = self.identity("/oauth2/token");
        let res = self
            .client
            .post(url.clone())
            .basic_auth(&src.client_id, Some(src.secret.expose()))
            .form(&[("grant_type", "client_credentials"), ("scope", "internal")])
            .send()
            .await
            .map_err(|e| InternalError::Auth(format!("calling {url}: {e}")))?;
        if !res.status().is_success() {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            return Err(InternalError::Auth(format!(
                "{url} answered {status}: {body}"
            )));
        }
        let t: TokenResponse = res
            .json()
            .await
            .map_err(|e| InternalError::Auth(format!("decoding token response: {e}")))?;
        let lifetime = Duration::from_secs(t.expires_in);
        let margin = Duration::from_secs(60).min(lifetime / 5);
        let token = Secret::new(t.access_token);
        *cached = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    async fn forget_token(&self) {
        *self.cached.lock().await = None;
    }

    /// An authenticated GET, retried.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, InternalError> {
        self.call::<(), T>(Method::GET, url, None, true, None).await
    }

    /// An authenticated GET, retried, whose attempts may take up to `timeout` (a long poll).
    pub async fn get_json_waiting<T: DeserializeOwned>(
        &self,
        url: Url,
        timeout: Duration,
    ) -> Result<T, InternalError> {
        self.call::<(), T>(Method::GET, url, None, true, Some(timeout))
            .await
    }

    /// An authenticated GET tried once (callers on a request path that fail open).
    pub async fn get_json_once<T: DeserializeOwned>(&self, url: Url) -> Result<T, InternalError> {
        self.call::<(), T>(Method::GET, url, None, false, None)
            .await
    }

    /// An authenticated POST; retried only when `idempotent` (the body carries its own
    /// idempotency key, e.g. a batch id).
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        url: Url,
        body: &B,
        idempotent: bool,
    ) -> Result<T, InternalError> {
        self.call(Method::POST, url, Some(body), idempotent, None)
            .await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
        idempotent: bool,
        timeout: Option<Duration>,
    ) -> Result<T, InternalError> {
        let attempts = if idempotent { 1 + self.retries } else { 1 };
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.service_token().await?;
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose());
            for (k, v) in telemetry::trace_headers() {
                req = req.header(k, v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            if let Some(t) = timeout {
                req = req.timeout(t);
            }
            let outcome = req.send().await;
            if matches!(&outcome, Ok(res) if res.status() == StatusCode::UNAUTHORIZED) && !refreshed
            {
                // The token may have been revoked or rotated: fetch a new one, once, and try
                // again at once (this attempt does not count).
                refreshed = true;
                self.forget_token().await;
                attempt -= 1;
                continue;
            }
            let retryable = match &outcome {
                Ok(res) => matches!(res.status().as_u16(), 429 | 502 | 503 | 504),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            if retryable && attempt < attempts {
                let backoff = Duration::from_millis(100 * (1 << (attempt - 1).min(6)));
                tokio::time::sleep(backoff + jitter(backoff / 2)).await;
                continue;
            }
            let res = outcome.map_err(|source| InternalError::Transport {
                url: url.to_string(),
                source,
            })?;
            let status = res.status();
            if !status.is_success() {
                let mut body = res.text().await.unwrap_or_default();
                body.truncate(512);
                return Err(InternalError::Status {
                    url: url.to_string(),
                    status: status.as_u16(),
                    body,
                });
            }
            return res.json().await.map_err(|source| InternalError::Transport {
                url: url.to_string(),
                source,
            });
        }
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    Url::parse(&s).unwrap_or_else(|_| base.clone())
}

fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let max_ms = max.as_millis().max(1) as u32;
    Duration::from_millis(u64::from(nanos % max_ms))
}
