//! The shared command line of every service binary: `serve` (default), `migrate`,
//! `validate-config`.
//!
//! Order at start-up: read and validate every variable (exit 2 listing all problems, before
//! any port is bound), then telemetry, then the subcommand. A service's own subcommands
//! (tools that do one thing and exit) go through [`run_command`].

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;

use crate::app::Application;
use crate::config::{CommonConfig, ConfigErrors, Env, ServiceKind, read_common};
use crate::telemetry;

/// The subcommands every service has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Serve HTTP until SIGTERM/SIGINT (the default).
    Serve,
    /// Apply this service's database migrations and exit. Reads only the common settings
    /// (DATABASE_URL and the logging ones), so a migration job needs no other secret.
    Migrate,
    /// Check the environment and exit (0 valid, 2 invalid).
    ValidateConfig,
    /// Exit 0 when this service answers `GET /health/live` on its own port (a container's
    /// HEALTHCHECK: the image has no shell or curl).
    Healthcheck,
}

/// What a service binary provides to [`run`].
///
/// A service writes its impl with [`service_main!`](crate::service_main), stating only its
/// configuration, state, migrations and build function; a hand-written impl works as well.
pub trait ServiceMain {
    /// The service's configuration.
    type Config: Send + 'static;
    /// The service's application state.
    type State: Send + 'static;
    /// Which service this is (its schema, its default port).
    const KIND: ServiceKind;

    /// Reads the configuration from `env`, reporting every problem.
    fn read_config(env: &Env) -> Result<Self::Config, ConfigErrors>;
    /// The common part of the configuration.
    fn common(cfg: &Self::Config) -> &CommonConfig;
    /// The embedded migrations.
    fn migrations() -> refinery::Runner;
    /// Builds the application (binds its listener).
    fn build(
        cfg: Self::Config,
    ) -> impl Future<Output = anyhow::Result<Application<Self::State>>> + Send;
}

/// Reads the configuration or prints every problem and returns exit code 2.
pub fn load_config<S: ServiceMain>(env: &Env) -> Result<S::Config, ExitCode> {
    S::read_config(env).map_err(|e| {
        let _ = write!(std::io::stderr(), "{e}");
        ExitCode::from(2)
    })
}

/// A multi-threaded runtime for the binary.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("agentidp")
        .build()
}

/// [`runtime`], or exit code 1 after saying on stderr why it could not start.
pub fn start_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    runtime().map_err(|e| {
        let _ = writeln!(std::io::stderr(), "cannot start the runtime: {e}");
        ExitCode::FAILURE
    })
}

/// Prints a subcommand's result as one JSON line on stdout (exit 0), or its error on stderr
/// (exit 1).
pub fn print_outcome(result: anyhow::Result<serde_json::Value>) -> ExitCode {
    match result {
        Ok(v) => {
            let _ = writeln!(std::io::stdout(), "{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a service's own subcommand: reads the configuration (exit 2 on problems), starts the
/// runtime and telemetry, runs `command`, prints its result as one JSON line on stdout (the
/// last line: logs go to stdout too) and exits 0, or prints the error on stderr and exits 1.
pub fn run_command<S, F, Fut>(command: F) -> ExitCode
where
    S: ServiceMain,
    F: FnOnce(S::Config) -> Fut,
    Fut: Future<Output = anyhow::Result<serde_json::Value>>,
{
    let env = Env::from_process();
    let cfg = match load_config::<S>(&env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match start_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = rt.block_on(async move {
        let common = S::common(&cfg);
        let guard = telemetry::init(common.service.name(), &common.telemetry)?;
        let result = command(cfg).await;
        guard.shutdown();
        result
    });
    print_outcome(result)
}

/// `migrate`: only the common settings are read (a migration job is given `DATABASE_URL`
/// and nothing else), then the migrations are applied.
fn migrate<S: ServiceMain>(env: &Env) -> ExitCode {
    let common = match read_common(env, S::KIND) {
        Ok(c) => c,
        Err(e) => {
            let _ = write!(std::io::stderr(), "{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match start_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = rt.block_on(async move {
        let service = common.service.name();
        let guard = telemetry::init(service, &common.telemetry)?;
        let result = crate::db::migrate(&common.database, service, S::migrations()).await;
        if let Ok(applied) = &result {
            tracing::info!(service, applied, "migrations applied");
        }
        guard.shutdown();
        result.map(|_| ())
    });
    exit_code(result)
}

fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one of the shared subcommands to completion.
pub fn run<S: ServiceMain>(command: Command) -> ExitCode {
    let env = Env::from_process();
    if command == Command::Migrate {
        return migrate::<S>(&env);
    }
    let cfg = match load_config::<S>(&env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if command == Command::ValidateConfig {
        let _ = writeln!(std::io::stdout(), "configuration is valid");
        return ExitCode::SUCCESS;
    }
    let rt = match start_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = rt.block_on(async move {
        let common = S::common(&cfg);
        let service = common.service.name();
        let guard = telemetry::init(service, &common.telemetry)?;
        let result = match command {
            Command::Healthcheck => healthcheck(common).await,
            Command::Serve | Command::ValidateConfig | Command::Migrate => {
                let app = S::build(cfg).await?;
                app.run_until_stopped().await
            }
        };
        guard.shutdown();
        result
    });
    exit_code(result)
}

/// `healthcheck`: `GET /health/live` on this process's own port answers 200 within 2 s.
async fn healthcheck(common: &CommonConfig) -> anyhow::Result<()> {
    let host = if common.http.host.is_unspecified() {
        match common.http.host {
            std::net::IpAddr::V4(_) => std::net::IpAddr::from([127, 0, 0, 1]),
            std::net::IpAddr::V6(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        common.http.host
    };
    let url = format!(
        "http://{}/health/live",
        std::net::SocketAddr::new(host, common.http.port)
    );
    let res = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()?
        .get(&url)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "{url} answered {}", res.status());
    Ok(())
}
