//! Test harness for AgentIdP services.
//!
//! Tests run the real service code: `Application::build` binds port 0 against a database of
//! the test's own (cloned from a migrated template) and a Redis key prefix of its own, so
//! tests run in parallel and in any order. Third parties that cannot be reached from here get
//! local fakes that speak their wire format.
//!
//! This crate may depend on `platform` and `domain`, never on a service crate: services'
//! test binaries depend on it, not the other way round.

// The fake Stripe's objects are large `json!` literals, as large as the real API's.
#![recursion_limit = "256"]

pub mod db;
pub mod fake_http;
pub mod identity;
pub mod jws;
pub mod logs;
pub mod oidc;
pub mod process;
pub mod receiver;
pub mod redis;
pub mod stripe;

use std::future::Future;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use platform::app::{Application, Core};
use platform::config::Env;
use serde::de::DeserializeOwned;

pub use db::TestDb;
pub use fake_http::SlowHttp;
pub use redis::PrivateRedis;
pub use stripe::FakeStripe;

/// One test's isolated resources.
#[derive(Debug)]
pub struct TestEnv {
    /// The test's database.
    pub db: TestDb,
    /// The Redis server URL.
    pub redis_url: String,
    /// The test's Redis key prefix.
    pub redis_prefix: String,
}

impl TestEnv {
    /// A fresh database and Redis prefix, with log capture installed.
    pub async fn new() -> anyhow::Result<Self> {
        logs::init();
        Ok(Self {
            db: TestDb::new().await?,
            redis_url: redis::shared_url(),
            redis_prefix: redis::unique_prefix(),
        })
    }

    /// The environment a service under test reads: port 0 on loopback, small pools, fast
    /// reconnects, test secrets.
    pub fn env(&self) -> Env {
        Env::from_pairs([
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("PUBLIC_URL", "http://localhost:8080"),
            // Nothing listens on the discard port: a test that needs another service points
            // these at it, and no test reaches a stack running on the default ports.
            ("IDENTITY_URL", "http://127.0.0.1:9"),
            ("BILLING_URL", "http://127.0.0.1:9"),
            ("DATABASE_URL", self.db.url()),
            ("DB_POOL_MAX", "8"),
            ("DB_POOL_MIN", "1"),
            ("REDIS_URL", &self.redis_url),
            ("REDIS_KEY_PREFIX", &self.redis_prefix),
            ("REDIS_RECONNECT_INTERVAL_MS", "100"),
            ("HTTP_WORKERS", "2"),
            ("SHUTDOWN_TIMEOUT_MS", "5000"),
            ("ACCESS_LOG", "false"),
            (
                "KEY_ENCRYPTION_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
            (
                "CREDENTIAL_PEPPER",
                "test-pepper-0123456789abcdef0123456789",
            ),
        ])
    }

    /// [`TestEnv::env`] with `overrides` set on top.
    pub fn env_with(&self, overrides: &[(&str, &str)]) -> Env {
        let mut env = self.env();
        for (k, v) in overrides {
            env.set(*k, *v);
        }
        env
    }
}

/// A running application under test.
#[derive(Debug)]
pub struct TestApp<S> {
    /// Its port.
    pub port: u16,
    /// Its internal port (`INTERNAL_PORT`), else [`TestApp::port`].
    pub internal_port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// The internal listener's base URL (`INTERNAL_PORT`), else [`TestApp::base_url`]: what
    /// other services are given as this one's URL.
    pub internal_url: String,
    /// Its shared runtime objects (pool, Redis, metrics).
    pub core: Core,
    /// Its service state.
    pub state: S,
    /// A client aimed at it.
    pub client: Client,
    handle: ServerHandle,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl<S: Clone + Send + 'static> TestApp<S> {
    /// Runs `app` in the background.
    pub fn spawn(app: Application<S>) -> Self {
        let port = app.port();
        let core = app.core().clone();
        let state = app.state.clone();
        let handle = app.server_handle();
        let base_url = format!("http://127.0.0.1:{port}");
        let internal_port = app.internal_port().unwrap_or(port);
        let internal_url = format!("http://127.0.0.1:{internal_port}");
        let task = tokio::spawn(app.run_until(std::future::pending()));
        Self {
            port,
            internal_port,
            client: Client::new(&base_url),
            base_url,
            internal_url,
            core,
            state,
            handle,
            task: Some(task),
        }
    }

    /// Stops gracefully (as on SIGTERM: drain, then flush hooks) and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.handle.stop(true).await;
        if let Some(t) = self.task.take() {
            t.await??;
        }
        Ok(())
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub body: String,
}

impl TestResponse {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The fields a validation problem names (`errors[].field`), in order; empty for any
    /// other body.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(str::to_owned))
            .collect()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the status and returns the body read as `T` (`serde_json::Value` for any
    /// JSON). Panics, naming the status and showing the body, when the status differs or
    /// the body is not a `T`:
    ///
    /// ```ignore
    /// let agent: serde_json::Value = client.get(&path).await?.expect(200);
    /// let page: Page<Listing> = client.get("/api/v1/marketplace/agents").await?.expect(200);
    /// ```
    #[track_caller]
    pub fn expect<T: DeserializeOwned>(&self, status: u16) -> T {
        self.expect_status(status);
        match serde_json::from_str(&self.body) {
            Ok(v) => v,
            Err(e) => panic!(
                "the {status} body is not a {}: {e}\n{}",
                std::any::type_name::<T>(),
                self.body
            ),
        }
    }

    /// Asserts the status (panicking with the body otherwise) and returns the response, for
    /// its headers or a body that is not JSON.
    #[track_caller]
    pub fn expect_status(&self, status: u16) -> &Self {
        assert!(
            self.status == status,
            "expected status {status}, got {}: {}",
            self.status,
            self.body
        );
        self
    }
}

/// A small HTTP client aimed at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base` (no redirects followed, 30 s timeout).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request builder for `method path`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends a built request and reads the whole response.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<TestResponse> {
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.text().await?;
        Ok(TestResponse {
            status,
            headers,
            body,
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> anyhow::Result<TestResponse> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `GET path` with a bearer token.
    pub async fn get_auth(&self, path: &str, token: &str) -> anyhow::Result<TestResponse> {
        self.send(self.request(reqwest::Method::GET, path).bearer_auth(token))
            .await
    }

    /// `POST path` with a JSON body and optional bearer token.
    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> anyhow::Result<TestResponse> {
        let mut req = self.request(reqwest::Method::POST, path).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// `POST path` with a form body.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
    ) -> anyhow::Result<TestResponse> {
        self.send(self.request(reqwest::Method::POST, path).form(form))
            .await
    }
}

/// A port that was free a moment ago (for services that must know each other's address
/// before they start).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `check` every 20 ms until it returns `Some` or `timeout` passes: waiting for a
/// condition, never sleeping on hope.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> TestResponse {
        TestResponse {
            status,
            headers: reqwest::header::HeaderMap::new(),
            body: body.to_owned(),
        }
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Thing {
        id: u32,
    }

    #[test]
    fn expect_returns_the_typed_body() {
        let res = response(200, r#"{"id": 7}"#);
        assert_eq!(res.expect::<Thing>(200), Thing { id: 7 });
        assert_eq!(res.expect::<serde_json::Value>(200)["id"], 7);
        assert_eq!(response(204, "").expect_status(204).body, "");
    }

    #[test]
    #[should_panic(expected = "expected status 200, got 404: {\"code\":\"not_found\"}")]
    fn expect_shows_the_body_of_another_status() {
        response(404, r#"{"code":"not_found"}"#).expect::<serde_json::Value>(200);
    }

    #[test]
    #[should_panic(expected = "is not a")]
    fn expect_names_a_body_of_another_shape() {
        response(200, r#"{"id": "seven"}"#).expect::<Thing>(200);
    }
}
