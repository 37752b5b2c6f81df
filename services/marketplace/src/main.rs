//! The `marketplace` binary: `serve` (default), `migrate`, `validate-config`, `seed`,
//! `rebuild`.

use std::process::ExitCode;

/// mimalloc: many short-lived buffers per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use platform::cli::Command;

/// Marketplace service: a public, searchable read projection of agents built from identity's change feed.
#[derive(Debug, Parser)]
#[command(name = "marketplace", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Shared(Command),
    /// Insert synthetic listings for benchmarks (never in production); prints
    /// {"listings": n, "seconds": s}.
    Seed {
        /// How many listings.
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// Listings per transaction.
        #[arg(long, default_value_t = 2_000)]
        batch_size: usize,
        /// Seed of the generator: the same seed gives the same catalogue.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Delete the synthetic listings instead.
        #[arg(long)]
        purge: bool,
    },
    /// Empty the projection and rebuild it from the start of identity's change feed.
    Rebuild,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cmd = match cli.command.unwrap_or(Cmd::Shared(Command::Serve)) {
        Cmd::Shared(c) => return platform::cli::run::<marketplace::Service>(c),
        other => other,
    };
    platform::cli::run_command::<marketplace::Service, _, _>(|config| async move {
        Ok(match cmd {
            Cmd::Seed {
                purge: true,
                batch_size,
                ..
            } => serde_json::json!(marketplace::purge_listings(&config, batch_size).await?),
            Cmd::Seed {
                count,
                batch_size,
                seed,
                ..
            } => serde_json::json!(
                marketplace::seed_listings(&config, count, batch_size, seed).await?
            ),
            Cmd::Rebuild => {
                marketplace::rebuild(&config).await?;
                serde_json::json!({"rebuilding": true})
            }
            Cmd::Shared(_) => anyhow::bail!("handled above"),
        })
    })
}
