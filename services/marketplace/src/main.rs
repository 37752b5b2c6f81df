//! The `marketplace` binary: `serve` (default), `migrate`, `validate-config`.

use std::process::ExitCode;

/// mimalloc: the token hot path allocates a lot of short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use platform::cli::Command;

/// Marketplace service: a public, searchable read projection of agents built from identity's change feed.
#[derive(Debug, Parser)]
#[command(name = "marketplace", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run::<marketplace::Service>(cli.command.unwrap_or(Command::Serve))
}
