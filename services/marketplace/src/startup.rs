//! Builds the marketplace application: pools, the change-feed consumer, the response cache,
//! routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use platform::app::{Application, Core};
use platform::db::Db;
use platform::feed::{FeedConsumer, FeedOptions};
use tokio::sync::Semaphore;

use crate::cache::ResponseCache;
use crate::config::Config;
use crate::projection::{CONSUMER, ListingProjection};
use crate::routes;

/// Everything the marketplace handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, shutdown.
    pub core: Core,
    /// Search responses.
    pub cache: Arc<ResponseCache>,
    /// Turns of searches in the database (`MARKETPLACE_SEARCH_CONCURRENCY`).
    pub search_turns: Arc<Semaphore>,
    /// The postings' statistics two-word searches estimate from.
    pub lexeme_stats: crate::repo::search::StatsCache,
    /// `PUBLIC_URL` without a trailing slash (links).
    pub public_base: String,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;

/// How long one long poll of the change feed waits for events.
const FEED_WAIT: Duration = Duration::from_secs(20);

/// Builds the application and binds its listener; refuses an unmigrated database. When
/// enabled and given service credentials, it follows identity's change feed.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&crate::schema::migrations()).await?;
    let cache = Arc::new(ResponseCache::new(config.cache_entries, &core.metrics));
    if config.enabled {
        if config.cache_entries > 0 {
            // A connection of its own: checks must not queue behind the searches they let
            // skip the database.
            let mut checks = config.common.database.clone();
            (checks.pool_max, checks.pool_min) = (1, 1);
            let checks = Db::new(&checks, "marketplace", "marketplace-cache")?;
            checks.spawn_upkeep(core.shutdown.token());
            cache
                .clone()
                .spawn_checks(checks, config.cache_poll, core.shutdown.token());
        }
        if core.config.internal.client_id.is_some() {
            let options = FeedOptions {
                limit: config.feed_page_size,
                wait: FEED_WAIT,
                actions: &crate::projection::FEED_ACTIONS,
            };
            FeedConsumer::new(
                CONSUMER,
                core.db.clone(),
                core.internal.clone(),
                &core.metrics,
                options,
            )
            .spawn(Arc::new(ListingProjection), core.shutdown.token());
        } else {
            tracing::warn!(
                "SERVICE_CLIENT_ID is not set: listings will not follow identity's change feed"
            );
        }
    }
    let state = web::Data::new(AppState {
        public_base: config.common.public_base(),
        search_turns: Arc::new(Semaphore::new(config.search_concurrency)),
        lexeme_stats: Default::default(),
        config: Arc::new(config),
        core: core.clone(),
        cache,
    });
    let health = core.health();
    let routes_state = state.clone();
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, routes_state.clone());
    })
}
