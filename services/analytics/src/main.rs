//! The `analytics` binary: `serve` (default), `migrate`, `validate-config`, and
//! `check-cards`, the partner interoperability check of a deployment's agent cards.

use std::io::Write as _;
use std::process::ExitCode;

/// mimalloc: the token hot path allocates a lot of short-lived buffers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use analytics::cards_check::{self, Auth};
use clap::{Parser, Subcommand};
use platform::cli::Command;

/// Analytics service: rollups from identity's change feed, analytics, compliance reports and agent cards.
#[derive(Debug, Parser)]
#[command(name = "analytics", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Shared(Command),
    /// Fetch a deployment's agent cards and validate every A2A AgentCard (v1.0) and OASF
    /// record (0.8.0) against the pinned schemas; exit 1 if any is invalid, 2 if the cards
    /// cannot be fetched.
    CheckCards {
        /// The deployment's public base URL (e.g. https://idp.example.com).
        #[arg(long)]
        url: reqwest::Url,
        /// A bearer token with compliance:read.
        #[arg(long, env = "AGENTIDP_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Or an OAuth client with compliance:read ...
        #[arg(long, env = "AGENTIDP_CLIENT_ID", requires = "client_secret")]
        client_id: Option<String>,
        /// ... and its secret.
        #[arg(long, env = "AGENTIDP_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
    },
}

fn check_cards(url: &reqwest::Url, auth: &Auth) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let fetched = platform::cli::runtime()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(cards_check::run(url, auth)));
    let outcome = match fetched {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            return ExitCode::from(2);
        }
    };
    for p in &outcome.problems {
        let _ = writeln!(out, "invalid export: {p}");
    }
    for card in &outcome.cards {
        if card.problems.is_empty() {
            let _ = writeln!(out, "ok       {}", card.agent_id);
        }
        for p in &card.problems {
            let _ = writeln!(out, "invalid  {}: {p}", card.agent_id);
        }
    }
    let _ = writeln!(
        out,
        "{} agent(s) checked, {} invalid",
        outcome.cards.len(),
        outcome.invalid()
    );
    if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Shared(Command::Serve)) {
        Cmd::Shared(c) => platform::cli::run::<analytics::Service>(c),
        Cmd::CheckCards {
            url,
            token,
            client_id,
            client_secret,
        } => {
            let auth = match (token, client_id, client_secret) {
                (Some(t), _, _) => Auth::Token(t),
                (None, Some(id), Some(secret)) => Auth::Client { id, secret },
                _ => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "error: pass --token, or --client-id and --client-secret"
                    );
                    return ExitCode::from(2);
                }
            };
            check_cards(&url, &auth)
        }
    }
}
