//! Integration tests of the marketplace service against real PostgreSQL and Redis.
//!
//! `foundation` exercises the shared platform (limits, health, pools, config, shutdown)
//! through this service's real server and binary.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on unexpected errors"
)]

mod foundation;
mod helpers;
