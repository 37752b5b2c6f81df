//! Graceful shutdown.
//!
//! One [`Shutdown`] per application (never global): background tasks watch its cancellation
//! token, and components that buffer work (metering counters, audit batches) register flush
//! hooks that run after the HTTP server has drained its in-flight requests.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Cancellation for background tasks plus ordered flush hooks.
#[derive(Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
    hooks: Arc<Mutex<Vec<(&'static str, Hook)>>>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("cancelled", &self.token.is_cancelled())
            .finish()
    }
}

impl Shutdown {
    /// A fresh, uncancelled shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// The token background tasks select on.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Registers a flush that runs once, after in-flight requests have finished.
    pub fn on_shutdown<F, Fut>(&self, name: &'static str, hook: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, Box::new(move || Box::pin(hook()))));
    }

    /// Cancels background tasks, then runs every hook in registration order, each bounded
    /// by `per_hook`.
    pub async fn run(&self, per_hook: Duration) {
        self.token.cancel();
        let hooks = std::mem::take(
            &mut *self
                .hooks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for (name, hook) in hooks {
            match tokio::time::timeout(per_hook, hook()).await {
                Ok(()) => tracing::info!(hook = name, "flushed"),
                Err(_) => tracing::error!(hook = name, "flush did not finish in time"),
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
                    _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
