//! Builds the analytics application: pools, the feed consumer, the retention job, routes.

use std::sync::Arc;

use actix_web::web;
use platform::app::{Application, Core};
use platform::auth::AuthContext;
use platform::feed::{FeedConsumer, FeedOptions};

use crate::compliance::Compliance;
use crate::config::Config;
use crate::migrations::migrations;
use crate::projection::{AnalyticsProjection, CONSUMER};
use crate::{retention, routes};

pub use crate::routes::state::{AppState, State};

/// Builds the application and binds its listener; refuses an unmigrated database. Starts
/// the change-feed consumer and the retention job when analytics or compliance is enabled.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&migrations()).await?;
    let verifier = core.identity_verifier();
    let auth = web::Data::new(AuthContext {
        verifier,
        limiter: core.limiter.clone(),
        metering: core.metering.clone(),
        quota: core.quota.clone(),
    });
    if config.enabled || config.compliance_enabled {
        FeedConsumer::new(
            CONSUMER,
            core.db.clone(),
            core.internal.clone(),
            &core.metrics,
            FeedOptions::default(),
        )
        .spawn(Arc::new(AnalyticsProjection), core.shutdown.token());
        retention::spawn(
            core.db.clone(),
            config.retention_days,
            config.retention_interval,
            core.shutdown.token(),
        );
    }
    let compliance = Compliance::new(
        core.db.clone(),
        core.redis.clone(),
        core.internal.clone(),
        config.compliance_cache_ttl,
    );
    let state = web::Data::new(AppState {
        config: Arc::new(config),
        core: core.clone(),
        compliance: web::Data::new(compliance),
    });
    let health = core.health();
    let routes_state = state.clone();
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, routes_state.clone(), auth.clone());
    })
}
