//! Integration tests of the marketplace service against real PostgreSQL and Redis, with a
//! real identity service as the source of its change feed.
//!
//! `foundation` exercises the shared platform (limits, health, pools, config, shutdown)
//! through this service's real server and binary.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on unexpected errors"
)]

mod abuse;
mod caching;
mod foundation;
mod helpers;
mod listings;
mod projection;
mod search;
