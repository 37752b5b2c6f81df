//! The `identity` binary: `serve` (default), `migrate`, `validate-config`.

use std::process::ExitCode;

use clap::Parser;
use platform::cli::Command;

/// Identity service: tenants, agents, credentials, OAuth 2.0 tokens, signing keys, audit, change feed, webhooks and DIDs.
#[derive(Debug, Parser)]
#[command(name = "identity", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run::<identity::Service>(cli.command.unwrap_or(Command::Serve))
}
