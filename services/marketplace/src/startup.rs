//! Builds the marketplace application: pools, the change-feed consumer, the search index and
//! its follower, the response cache, the services the routes use, routes.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use platform::app::{Application, Core};
use platform::db::Db;
use platform::feed::{FeedConsumer, FeedOptions};

use crate::cache::ResponseCache;
use crate::config::Config;
use crate::detail::Details;
use crate::index::SearchIndex;
use crate::index::follow::Follower;
use crate::migrations::migrations;
use crate::projection::{CONSUMER, FEED_ACTIONS, ListingProjection};
use crate::routes::{self, CachePolicy, Services};
use crate::search::service::Search;

/// The running service: its configuration, shared runtime objects and the services its
/// handlers use.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<Config>,
    /// Pool, Redis, limiter, metrics, internal client, shutdown.
    pub core: Core,
    /// What the handlers use.
    pub services: Services,
}

/// Shared state as actix app data.
pub type State = web::Data<AppState>;

/// How long one long poll of the change feed waits for events.
const FEED_WAIT: Duration = Duration::from_secs(20);

/// How long a starting instance waits for one stopping to let go of the index directory.
const INDEX_WAIT: Duration = Duration::from_secs(10);

/// Builds the application and binds its listener; refuses an unmigrated database. When
/// enabled and given service credentials, it follows identity's change feed.
pub async fn build(config: Config) -> anyhow::Result<Application<State>> {
    let core = Core::new(config.common.clone())?;
    core.ensure_migrated(&migrations()).await?;
    let cache = Arc::new(ResponseCache::new(config.cache_entries, &core.metrics));
    let index = Arc::new(
        SearchIndex::open_waiting(&config.index_dir, &config.common.public_base(), INDEX_WAIT)
            .await?,
    );
    // A connection of its own: following the listings must not queue behind searches.
    let mut follow_db = config.common.database.clone();
    (follow_db.pool_max, follow_db.pool_min) = (1, 1);
    let follow_db = Db::new(&follow_db, "marketplace", "marketplace-index")?;
    let follower = Arc::new(Follower::new(
        index.clone(),
        cache.clone(),
        follow_db.clone(),
        &core.metrics,
    ));
    let (readiness, enabled) = (follower.readiness(), config.enabled);
    if config.enabled {
        follow_db.spawn_upkeep(core.shutdown.token());
        follower.spawn(config.cache_poll, core.shutdown.token());
        if core.config.internal.client_id.is_some() {
            let options = FeedOptions {
                limit: config.feed_page_size,
                wait: FEED_WAIT,
                actions: &FEED_ACTIONS,
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
    let services = Services {
        enabled: config.enabled,
        search: web::Data::new(Search::new(
            core.db.clone(),
            index,
            cache,
            &config,
            &core.metrics,
        )),
        details: web::Data::new(Details::new(core.db.clone(), config.common.public_base())),
        caching: CachePolicy {
            max_age_secs: config.max_age_secs,
        },
    };
    let state = web::Data::new(AppState {
        config: Arc::new(config),
        core: core.clone(),
        services: services.clone(),
    });
    let health = core.health().with_readiness(Arc::new(move || {
        if readiness.is_ready() || !enabled {
            Ok(())
        } else {
            Err("the search index is catching up with the listings".to_owned())
        }
    }));
    Application::start(core, state, health, move |cfg| {
        routes::configure(cfg, &services);
    })
}
