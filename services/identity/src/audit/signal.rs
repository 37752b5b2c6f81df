//! Wakes change-feed readers when this instance commits audit events.

use std::sync::Arc;

use tokio::sync::Notify;

/// Wakes long-polling readers when this instance commits events.
#[derive(Debug, Clone, Default)]
pub struct FeedSignal(Arc<Notify>);

impl FeedSignal {
    /// Wakes every waiting reader.
    pub fn notify(&self) {
        self.0.notify_waiters();
    }

    /// Completes at the next [`FeedSignal::notify`] after this call.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.notified()
    }
}
