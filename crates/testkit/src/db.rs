//! A fresh PostgreSQL database per test, cloned from a template that has every service's
//! migrations applied.
//!
//! The template is named after a hash of all migrations, so a changed migration builds a new
//! one; building it happens once, under an advisory lock, whichever test process gets there
//! first. Cloning takes tens of milliseconds. Each test database is dropped when its
//! [`TestDb`] is dropped; databases left by killed runs are swept after six hours.

use std::hash::{Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio_postgres::NoTls;

mod embedded {
    pub mod identity {
        refinery::embed_migrations!("../../migrations/identity");
    }
    pub mod marketplace {
        refinery::embed_migrations!("../../migrations/marketplace");
    }
    pub mod billing {
        refinery::embed_migrations!("../../migrations/billing");
    }
    pub mod analytics {
        refinery::embed_migrations!("../../migrations/analytics");
    }
}

/// Every service's schema and migrations.
pub fn all_migrations() -> Vec<(&'static str, refinery::Runner)> {
    vec![
        ("identity", embedded::identity::migrations::runner()),
        ("marketplace", embedded::marketplace::migrations::runner()),
        ("billing", embedded::billing::migrations::runner()),
        ("analytics", embedded::analytics::migrations::runner()),
    ]
}

/// The server tests use: `TEST_DATABASE_URL`, else the machine's local PostgreSQL.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn url_for(db: &str) -> anyhow::Result<String> {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .context("TEST_DATABASE_URL must end with /<database>")?;
    Ok(format!("{base}/{db}"))
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| "connecting to the test PostgreSQL (is it running?)".to_owned())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

fn template_name() -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (schema, runner) in all_migrations() {
        schema.hash(&mut h);
        for m in runner.get_migrations() {
            m.version().hash(&mut h);
            m.checksum().hash(&mut h);
        }
    }
    format!("agentidp_tpl_{:016x}", h.finish())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn ensure_template(admin: &tokio_postgres::Client) -> anyhow::Result<String> {
    let name = template_name();
    admin
        .batch_execute("SELECT pg_advisory_lock(hashtext('agentidp-test-template'))")
        .await?;
    let result = async {
        let exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await?
            .is_some();
        if !exists {
            let building = format!("{name}_building");
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .await?;
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .await?;
            {
                let mut c = connect(&url_for(&building)?).await?;
                for (schema, runner) in all_migrations() {
                    platform::db::migrate_with_client(&mut c, schema, runner)
                        .await
                        .with_context(|| format!("migrating {schema} in the template"))?;
                }
            }
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE {building} WITH ALLOW_CONNECTIONS false;
                     ALTER DATABASE {building} RENAME TO {name};
                     COMMENT ON DATABASE {name} IS 'created {}'",
                    now_secs()
                ))
                .await?;
        }
        sweep(admin, &name).await;
        anyhow::Ok(())
    }
    .await;
    admin
        .batch_execute("SELECT pg_advisory_unlock(hashtext('agentidp-test-template'))")
        .await?;
    result?;
    Ok(name)
}

/// Drops test databases older than six hours, and templates of other migration sets made
/// more than a day ago (other checkouts on the same server may still be using newer ones).
async fn sweep(admin: &tokio_postgres::Client, template: &str) {
    let Ok(rows) = admin
        .query(
            "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '')
               FROM pg_database WHERE datname LIKE 'agentidp\\_t%'",
            &[],
        )
        .await
    else {
        return;
    };
    let cutoff = now_secs().saturating_sub(6 * 3600);
    let template_cutoff = now_secs().saturating_sub(24 * 3600);
    for row in rows {
        let name: String = row.get(0);
        let comment: String = row.get(1);
        let created = comment
            .strip_prefix("created ")
            .and_then(|ts| ts.parse::<u64>().ok())
            .unwrap_or(0);
        let stale = if let Some(rest) = name.strip_prefix("agentidp_t_") {
            rest.split('_')
                .next()
                .and_then(|ts| ts.parse::<u64>().ok())
                .is_some_and(|ts| ts < cutoff)
        } else {
            name.starts_with("agentidp_tpl_")
                && name != template
                && !name.ends_with("_building")
                && created < template_cutoff
        };
        if stale {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A database of one's own, dropped on drop.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Clones the migrated template into a new database.
    pub async fn new() -> anyhow::Result<Self> {
        let admin = connect(&admin_url()).await?;
        let template = ensure_template(&admin).await?;
        let name = format!(
            "agentidp_t_{}_{}",
            now_secs(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY"
            ))
            .await
            .context("cloning the template database")?;
        let url = url_for(&name)?;
        Ok(Self { name, url })
    }

    /// An empty database with no schemas migrated (to test refusal to start).
    pub async fn empty() -> anyhow::Result<Self> {
        let admin = connect(&admin_url()).await?;
        let name = format!(
            "agentidp_t_{}_{}",
            now_secs(),
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let url = url_for(&name)?;
        Ok(Self { name, url })
    }

    /// Its connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A plain client connected to it (as the database owner), for assertions on state.
    pub async fn client(&self) -> anyhow::Result<tokio_postgres::Client> {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside or outside a runtime; a thread of its own works in both.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(admin) = connect(&admin_url()).await {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}
