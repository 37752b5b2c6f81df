//! The `identity` binary: `serve` (default), `migrate`, `validate-config`,
//! `service-client <name>`, `rotate-signing-key`, `tenant-admin-reset <tenant id>`,
//! `reseal-secrets` (alias `rotate-kek`).

use std::process::ExitCode;

/// mimalloc: the token hot path allocates a lot of short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use platform::cli::Command;

/// Identity service of AgentIdP.
#[derive(Debug, Parser)]
#[command(name = "identity", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Shared(Command),
    /// Create or rotate the internal OAuth client of another service; prints
    /// {"client_id": ..., "client_secret": ...}.
    ServiceClient {
        /// The service's name (marketplace, billing, analytics).
        name: String,
    },
    /// Schedule a new signing key (published now, signing after SIGNING_KEY_PUBLISH_LEAD_SECS).
    RotateSigningKey,
    /// Create a new admin client with every platform scope for a tenant that lost every
    /// admin secret (audited with actor system); prints it as JSON with its client_secret.
    TenantAdminReset {
        /// The tenant's id.
        tenant: uuid::Uuid,
    },
    /// Seal every private key and webhook secret again under the primary
    /// KEY_ENCRYPTION_KEY (after adding the old one as KEY_ENCRYPTION_KEY_SECONDARY, or
    /// KEY_ENCRYPTION_KEY_PREVIOUS); prints the counts. Also called `rotate-kek`.
    #[command(visible_alias = "rotate-kek")]
    ResealSecrets,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match cli.command.unwrap_or(Cmd::Shared(Command::Serve)) {
        Cmd::Shared(c) => return platform::cli::run::<identity::Service>(c),
        other => other,
    };
    let env = platform::config::Env::from_process();
    let config = match platform::cli::load_config::<identity::Service>(&env) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rt = match platform::cli::start_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let output = rt.block_on(async {
        match cmd {
            Cmd::ServiceClient { name } => identity::service_client(&config, &name)
                .await
                .map(|(id, secret)| serde_json::json!({"client_id": id, "client_secret": secret})),
            Cmd::RotateSigningKey => identity::rotate_signing_key(&config).await.map(|(kid, at)| {
                serde_json::json!({"kid": kid, "activates_at": identity::audit::format_time(at)})
            }),
            Cmd::ResealSecrets => identity::reseal_secrets(&config)
                .await
                .and_then(|report| Ok(serde_json::to_value(report)?)),
            Cmd::TenantAdminReset { tenant } => identity::tenant_admin_reset(&config, tenant).await,
            Cmd::Shared(_) => unreachable!("handled above"),
        }
    });
    platform::cli::print_outcome(output)
}
