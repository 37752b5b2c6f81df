//! PostgreSQL: the connection pool, its upkeep, and per-service migrations.
//!
//! Each service owns one schema, named after it; its connections put that schema first on
//! the `search_path`, so repository SQL never names a schema and never reaches another
//! service's tables. The pool ([`Db`]) follows `DB_POOL_*`:
//! - waiting longer than `DB_POOL_CONNECTION_TIMEOUT_MS` for a connection answers 503 with
//!   `Retry-After` (`database_unavailable`);
//! - a maintenance task closes connections idle for longer than `DB_POOL_IDLE_TIMEOUT_MS`,
//!   never going below `DB_POOL_MIN`, and opens connections back up to `DB_POOL_MIN`.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Timeouts,
};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

use crate::config::{DatabaseConfig, PgTls};
use crate::errors::ApiError;

pub use deadpool_postgres::{Client, GenericClient, Transaction};

/// A service's connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    min: usize,
    idle_timeout: Duration,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("status", &self.pool.status())
            .finish()
    }
}

/// The TLS connector `cfg.tls` asks for (`None`: plain TCP).
fn tls_connector(cfg: &DatabaseConfig) -> anyhow::Result<Option<crate::tls::MakeRustls>> {
    match &cfg.tls {
        PgTls::Off => Ok(None),
        PgTls::Verify { ca_file } => Ok(Some(crate::tls::MakeRustls::new(
            crate::tls::client_config(ca_file.as_deref())?,
        ))),
    }
}

/// A connection configuration for `schema`, with explicit timeouts and keepalives.
pub fn pg_config(
    cfg: &DatabaseConfig,
    schema: &str,
    application_name: &str,
) -> anyhow::Result<tokio_postgres::Config> {
    let mut pg =
        tokio_postgres::Config::from_str(cfg.url.expose()).context("parsing DATABASE_URL")?;
    pg.application_name(application_name)
        .connect_timeout(cfg.connection_timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .options(format!(
            "-c search_path={schema},public -c statement_timeout={} -c idle_in_transaction_session_timeout=60000",
            cfg.statement_timeout.as_millis()
        ));
    Ok(pg)
}

impl Db {
    /// Builds the pool (no connection is made until first use or the upkeep task runs).
    pub fn new(cfg: &DatabaseConfig, schema: &str, application_name: &str) -> anyhow::Result<Self> {
        let pg = pg_config(cfg, schema, application_name)?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls_connector(cfg)? {
            Some(tls) => Manager::from_config(pg, tls, manager_config),
            None => Manager::from_config(pg, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(cfg.pool_max)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(cfg.connection_timeout),
                create: Some(cfg.connection_timeout),
                recycle: Some(cfg.connection_timeout),
            })
            .build()
            .context("building the PostgreSQL pool")?;
        Ok(Self {
            pool,
            min: cfg.pool_min,
            idle_timeout: cfg.idle_timeout,
        })
    }

    /// A connection, or 503 when none frees up within the connection timeout.
    pub async fn get(&self) -> Result<Client, ApiError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// The underlying pool (status, tests).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// `DB_POOL_MIN`.
    pub fn min(&self) -> usize {
        self.min
    }

    /// Closes idle connections past the idle timeout, keeping at least `min` in the pool.
    /// Returns how many were closed.
    pub fn reap_idle(&self) -> usize {
        let status = self.pool.status();
        // Connections lent out count towards the minimum.
        let mut keep_budget = status.size.saturating_sub(self.min);
        let idle_timeout = self.idle_timeout;
        let result = self.pool.retain(|_, metrics| {
            if keep_budget > 0 && metrics.last_used() > idle_timeout {
                keep_budget -= 1;
                false
            } else {
                true
            }
        });
        result.removed.len()
    }

    /// Opens connections until the pool holds at least `min`.
    pub async fn fill_to_min(&self) -> Result<(), ApiError> {
        let missing = self.min.saturating_sub(self.pool.status().size);
        if missing == 0 {
            return Ok(());
        }
        let mut held = Vec::with_capacity(missing);
        for _ in 0..missing {
            held.push(self.get().await?);
        }
        drop(held);
        Ok(())
    }

    /// Runs [`Db::reap_idle`] and [`Db::fill_to_min`] until `stop` is cancelled.
    pub fn spawn_upkeep(&self, stop: CancellationToken) {
        let db = self.clone();
        let every =
            (self.idle_timeout / 4).clamp(Duration::from_millis(25), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let closed = db.reap_idle();
                if closed > 0 {
                    tracing::debug!(closed, "closed idle database connections");
                }
                if let Err(e) = db.fill_to_min().await {
                    tracing::debug!(error = %e, "could not open minimum database connections");
                }
            }
        });
    }

    /// Round-trips `SELECT 1` (health checks).
    pub async fn ping(&self) -> Result<(), ApiError> {
        let c = self.get().await?;
        c.simple_query("SELECT 1").await?;
        Ok(())
    }
}

fn pool_error(e: PoolError) -> ApiError {
    match e {
        PoolError::Timeout(_) => ApiError::unavailable(
            "database_unavailable",
            "no database connection became free in time; try again shortly",
            1,
        ),
        PoolError::Backend(e) => classify_pg_error(e),
        other => ApiError::unavailable("database_unavailable", "the database is unavailable", 1)
            .with_source(anyhow::anyhow!("{other}")),
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        classify_pg_error(e)
    }
}

/// Maps a driver error: lost connections and overload become 503, the rest opaque 500s.
pub fn classify_pg_error(e: tokio_postgres::Error) -> ApiError {
    let transient = e.is_closed()
        || e.code().is_some_and(|c| {
            *c == SqlState::TOO_MANY_CONNECTIONS
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::QUERY_CANCELED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
        })
        || e.as_db_error().is_none() && e.to_string().contains("connect");
    if transient {
        ApiError::unavailable(
            "database_unavailable",
            "the database is unavailable; try again shortly",
            1,
        )
        .with_source(e)
    } else {
        ApiError::internal(e)
    }
}

/// True when `e` is a unique-constraint violation (for 409 mapping in repositories).
pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Name of refinery's history table inside each service schema.
pub const MIGRATION_TABLE: &str = "refinery_schema_history";

/// One connection outside the pool (migrations, tools), over TLS when `cfg.tls` asks.
pub async fn connect_once(
    cfg: &DatabaseConfig,
    schema: &str,
    app: &str,
) -> anyhow::Result<tokio_postgres::Client> {
    let pg = pg_config(cfg, schema, app)?;
    let client = match tls_connector(cfg)? {
        Some(tls) => {
            let (client, conn) = pg.connect(tls).await.context("connecting to PostgreSQL")?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "direct connection closed");
                }
            });
            client
        }
        None => {
            let (client, conn) = pg
                .connect(NoTls)
                .await
                .context("connecting to PostgreSQL")?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "direct connection closed");
                }
            });
            client
        }
    };
    Ok(client)
}

/// Creates `schema` if needed and applies `runner`'s migrations to it, under an advisory
/// lock so concurrent migrators wait for each other.
pub async fn migrate_with_client(
    client: &mut tokio_postgres::Client,
    schema: &str,
    mut runner: refinery::Runner,
) -> anyhow::Result<usize> {
    runner.set_migration_table_name(MIGRATION_TABLE);
    let runner = runner.set_grouped(true);
    client
        .batch_execute(&format!(
            "SELECT pg_advisory_lock(hashtext('agentidp-migrate-{schema}'));
             CREATE SCHEMA IF NOT EXISTS {schema};
             SET search_path = {schema}, public;"
        ))
        .await
        .context("preparing the schema")?;
    let report = runner
        .run_async(client)
        .await
        .context("applying migrations");
    let unlock = client
        .batch_execute(&format!(
            "SELECT pg_advisory_unlock(hashtext('agentidp-migrate-{schema}'))"
        ))
        .await;
    let report = report?;
    unlock.context("releasing the migration lock")?;
    Ok(report.applied_migrations().len())
}

/// `<service> migrate`: applies the service's migrations to its schema.
pub async fn migrate(
    cfg: &DatabaseConfig,
    schema: &str,
    runner: refinery::Runner,
) -> anyhow::Result<usize> {
    let mut client = connect_once(cfg, schema, &format!("{schema}-migrate")).await?;
    migrate_with_client(&mut client, schema, runner).await
}

/// Refuses to serve against a database that lacks this build's migrations.
pub async fn ensure_migrated(
    db: &Db,
    schema: &str,
    runner: &refinery::Runner,
) -> anyhow::Result<()> {
    let expected = runner
        .get_migrations()
        .iter()
        .map(refinery::Migration::version)
        .max()
        .unwrap_or(0);
    let client = db.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.{MIGRATION_TABLE}")],
        )
        .await
        .context("checking migrations")?
        .get(0);
    let applied: i32 = if exists {
        client
            .query_one(
                &format!("SELECT COALESCE(MAX(version), 0) FROM {schema}.{MIGRATION_TABLE}"),
                &[],
            )
            .await
            .context("reading applied migrations")?
            .get(0)
    } else {
        0
    };
    if applied < expected {
        anyhow::bail!(
            "the database is not migrated (schema {schema} is at version {applied}, this build needs {expected}); run `{schema} migrate` first"
        );
    }
    Ok(())
}
