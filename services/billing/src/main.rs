//! The `billing` binary: `serve` (default), `migrate`, `validate-config`.

use std::process::ExitCode;

/// mimalloc: the token hot path allocates a lot of short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use platform::cli::Command;

/// Billing service: Stripe Checkout and webhooks, subscriptions, usage metering and entitlements.
#[derive(Debug, Parser)]
#[command(name = "billing", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    platform::cli::run::<billing::Service>(cli.command.unwrap_or(Command::Serve))
}
