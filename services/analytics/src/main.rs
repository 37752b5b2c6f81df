//! The `analytics` binary: `serve` (default), `migrate`, `validate-config`.

use std::process::ExitCode;

/// mimalloc: the token hot path allocates a lot of short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use platform::cli::Command;

/// Analytics service: rollups from identity's change feed, analytics, compliance reports and agent cards.
#[derive(Debug, Parser)]
#[command(name = "analytics", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run::<analytics::Service>(cli.command.unwrap_or(Command::Serve))
}
