//! Redis: one shared, self-healing multiplexed connection per process.
//!
//! A multiplexed connection pipelines every concurrent command over one socket, which is what
//! the token hot path wants. deadpool-redis creates the connections (with the configured
//! connect and response timeouts); its pool is not used to lend them out, because a pooled
//! checkout pings the server first and would double every round trip.
//!
//! When a command fails for a connectivity reason the connection is marked down: commands then
//! fail fast (callers fall back, e.g. to the in-memory limiter) and one caller per
//! `REDIS_RECONNECT_INTERVAL_MS` tries to reconnect. The switch to "down" logs one warning,
//! the way back one info line. [`Redis::connections`] lets a task learn that a new
//! connection was made (e.g. to repair what failed to reach Redis meanwhile).
//!
//! Keys: every key is `REDIS_KEY_PREFIX` + `<purpose>:` + rest. Purposes in use are listed in
//! `docs/OPERATIONS.md` (`rate:`, `revoked:`, `usage:`, `tier:`, `quota:`, `cache:`).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::{Manager, Pool, Runtime};

pub use deadpool_redis::redis;

use crate::config::RedisConfig;

/// Why a Redis command did not produce a value.
#[derive(Debug, thiserror::Error)]
pub enum RedisFailure {
    /// Redis is (believed to be) unreachable.
    #[error("redis is unavailable")]
    Unavailable,
    /// The server answered with an error (script error, wrong type, ...).
    #[error("redis command failed: {0}")]
    Command(#[source] redis::RedisError),
}

enum State {
    Up {
        conn: MultiplexedConnection,
        generation: u64,
    },
    Down {
        retry_at: Instant,
        last_error: String,
    },
}

struct Inner {
    pool: Pool,
    prefix: String,
    /// `host:port` of the server, for logs (never credentials).
    addr: String,
    reconnect_interval: Duration,
    state: RwLock<State>,
    reconnecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    /// Whether the "down" warning was logged since the last successful connection.
    warned: std::sync::atomic::AtomicBool,
    /// The generation of the newest connection (0: none yet).
    connected: tokio::sync::watch::Sender<u64>,
}

/// Handle to Redis; cheap to clone.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.inner.prefix)
            .field("up", &self.is_up())
            .finish()
    }
}

impl Redis {
    /// Prepares the handle; nothing connects until the first command.
    pub fn new(cfg: &RedisConfig) -> anyhow::Result<Self> {
        let conn_cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(cfg.connect_timeout))
            .set_response_timeout(Some(cfg.response_timeout));
        crate::tls::install_provider();
        let manager = match &cfg.ca_file {
            // `rediss://` verified against this CA instead of the system's roots.
            Some(path) => {
                let root_cert = std::fs::read(path).map_err(|e| {
                    anyhow::anyhow!("reading REDIS_CA_FILE {}: {e}", path.display())
                })?;
                let client = redis::Client::build_with_tls(
                    cfg.url.expose().as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(root_cert),
                    },
                )?;
                Manager::new_with_config(client.get_connection_info().clone(), conn_cfg)?
            }
            None => Manager::new_with_config(cfg.url.expose().as_str(), conn_cfg)?,
        };
        let pool = Pool::builder(manager)
            .max_size(4)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(cfg.connect_timeout))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                prefix: cfg.key_prefix.clone(),
                addr: display_addr(cfg.url.expose()),
                reconnect_interval: cfg.reconnect_interval,
                state: RwLock::new(State::Down {
                    retry_at: Instant::now(),
                    last_error: "not connected yet".into(),
                }),
                reconnecting: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                warned: std::sync::atomic::AtomicBool::new(false),
                connected: tokio::sync::watch::Sender::new(0),
            }),
        })
    }

    /// `REDIS_KEY_PREFIX` + `purpose:` + `rest`.
    pub fn key(&self, purpose: &str, rest: &str) -> String {
        let mut k = String::with_capacity(self.inner.prefix.len() + purpose.len() + rest.len() + 1);
        k.push_str(&self.inner.prefix);
        k.push_str(purpose);
        k.push(':');
        k.push_str(rest);
        k
    }

    /// `REDIS_KEY_PREFIX`.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The generation of the newest connection (0 before the first), which changes each
    /// time a connection is made: the first one and every reconnection after Redis was down.
    pub fn connections(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.connected.subscribe()
    }

    /// Whether the last command reached Redis.
    pub fn is_up(&self) -> bool {
        matches!(*self.read_state(), State::Up { .. })
    }

    /// The last connectivity error, while down.
    pub fn last_error(&self) -> Option<String> {
        match &*self.read_state() {
            State::Down { last_error, .. } => Some(last_error.clone()),
            State::Up { .. } => None,
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The shared connection, reconnecting when due; fails fast while Redis is down.
    async fn connection(&self) -> Result<(MultiplexedConnection, u64), RedisFailure> {
        {
            let state = self.read_state();
            match &*state {
                State::Up { conn, generation } => return Ok((conn.clone(), *generation)),
                State::Down { retry_at, .. } if Instant::now() < *retry_at => {
                    return Err(RedisFailure::Unavailable);
                }
                State::Down { .. } => {}
            }
        }
        // One reconnect attempt at a time; everyone else fails fast meanwhile.
        let Ok(_guard) = self.inner.reconnecting.try_lock() else {
            return Err(RedisFailure::Unavailable);
        };
        if let State::Up { conn, generation } = &*self.read_state() {
            return Ok((conn.clone(), *generation));
        }
        match self.inner.pool.get().await {
            Ok(obj) => {
                let conn = deadpool_redis::Connection::take(obj);
                let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
                *self.write_state() = State::Up {
                    conn: conn.clone(),
                    generation,
                };
                self.inner.connected.send_replace(generation);
                if self.inner.warned.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        redis.addr = %self.inner.addr,
                        "redis is reachable again; shared limits and counters resume"
                    );
                }
                Ok((conn, generation))
            }
            Err(e) => {
                self.mark_down(None, &e.to_string());
                Err(RedisFailure::Unavailable)
            }
        }
    }

    fn mark_down(&self, generation: Option<u64>, error: &str) {
        {
            let mut state = self.write_state();
            if let (
                Some(g),
                State::Up {
                    generation: current,
                    ..
                },
            ) = (generation, &*state)
                && *current != g
            {
                return; // a newer connection already replaced the failed one
            }
            *state = State::Down {
                retry_at: Instant::now() + self.inner.reconnect_interval,
                last_error: error.to_owned(),
            };
        }
        if !self.inner.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error,
                redis.addr = %self.inner.addr,
                "redis is unreachable; using in-memory fallbacks until it returns"
            );
        }
    }

    /// Runs `f` with the shared connection. Connectivity errors mark Redis down and come back
    /// as [`RedisFailure::Unavailable`].
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, RedisFailure>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let (conn, generation) = self.connection().await?;
        match f(conn).await {
            Ok(v) => Ok(v),
            Err(e) if is_connectivity(&e) => {
                self.mark_down(Some(generation), &e.to_string());
                Err(RedisFailure::Unavailable)
            }
            Err(e) => Err(RedisFailure::Command(e)),
        }
    }

    /// Records `key` for `ttl_ms` unless it exists (`SET NX PX`): `true` the first time, on
    /// any instance; the single-use check of tokens, assertions and proofs.
    pub async fn set_once(&self, key: &str, ttl_ms: i64) -> Result<bool, RedisFailure> {
        let key = key.to_owned();
        let set: Option<String> = self
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(set.is_some())
    }

    /// `PING` (health checks). Tries to connect even when a retry is not yet due.
    pub async fn ping(&self) -> Result<(), RedisFailure> {
        if !self.is_up()
            && let State::Down { retry_at, .. } = &mut *self.write_state()
        {
            *retry_at = Instant::now();
        }
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}

/// `host:port` of a Redis URL, without scheme, credentials or database.
fn display_addr(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

fn is_connectivity(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_addr_hides_credentials() {
        assert_eq!(
            super::display_addr("redis://:pw@cache:6380/2"),
            "cache:6380"
        );
        assert_eq!(
            super::display_addr("redis://127.0.0.1:6379"),
            "127.0.0.1:6379"
        );
    }
}
