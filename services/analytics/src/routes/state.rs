//! What the analytics handlers share: the settings, the runtime objects and the services
//! they call (each also registered on its own, so a handler extracts only the one it uses).

use std::sync::Arc;

use actix_web::web;
use platform::app::Core;

use crate::compliance::Compliance;
use crate::config::Config;

/// Everything the analytics handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, metrics, internal client, shutdown.
    pub core: Core,
    /// Compliance reports.
    pub compliance: web::Data<Compliance>,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;
