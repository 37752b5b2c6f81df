//! `service_main!` and `embed_migrations!`: a service hooked into the shared binary by
//! stating only its configuration, state, migrations and build function.

use platform::app::{Application, Core};
use platform::cli::ServiceMain;
use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};
use testkit::{TestApp, TestDb, TestEnv};

/// The probe service's configuration: the common settings and one of its own.
#[derive(Debug)]
struct ProbeConfig {
    common: CommonConfig,
    greeting: String,
}

impl ProbeConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Marketplace);
        let greeting = r.string("PROBE_GREETING", "hello");
        if greeting.len() > 8 {
            r.error("PROBE_GREETING", "must be at most 8 bytes");
        }
        r.finish()?;
        Ok(Self { common, greeting })
    }
}

mod migrations {
    platform::embed_migrations!("tests/api/migrations");
}

async fn build(cfg: ProbeConfig) -> anyhow::Result<Application<String>> {
    let core = Core::new(cfg.common)?;
    core.ensure_migrated(&migrations::migrations()).await?;
    let health = core.health();
    Application::start(core, cfg.greeting, health, |_| {})
}

platform::service_main! {
    /// The probe service.
    struct Probe(kind: Marketplace, config: ProbeConfig, state: String, migrations: migrations::migrations, build: build);
}

#[tokio::test]
async fn a_service_states_only_what_differs() {
    let env = TestEnv::new().await.unwrap();
    let cfg = Probe::read_config(&env.env_with(&[("PROBE_GREETING", "hi")])).unwrap();
    assert_eq!(Probe::common(&cfg).service, ServiceKind::Marketplace);
    let versions: Vec<i32> = Probe::migrations()
        .get_migrations()
        .iter()
        .map(|m| m.version())
        .collect();
    assert_eq!(versions, [1]);

    let app = TestApp::spawn(Probe::build(cfg).await.unwrap());
    assert_eq!(app.state, "hi");
    assert_eq!(app.client.get("/health/live").await.unwrap().status, 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_bad_variable_is_reported_and_an_unmigrated_database_refused() {
    let env = TestEnv::new().await.unwrap();
    let bad = env.env_with(&[("PORT", "lots"), ("PROBE_GREETING", "far too long")]);
    let errs = Probe::read_config(&bad).unwrap_err();
    let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
    assert_eq!(vars, ["PORT", "PROBE_GREETING"]);

    let empty = TestDb::empty().await.unwrap();
    let cfg = Probe::read_config(&env.env_with(&[("DATABASE_URL", empty.url())])).unwrap();
    let err = Probe::build(cfg).await.unwrap_err();
    assert!(format!("{err:#}").contains("not migrated"), "{err:#}");
}
