//! Integration tests of the analytics service against real PostgreSQL, Redis and identity.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on unexpected errors"
)]

mod analytics;
mod cards;
mod check_cards;
mod compliance;
mod helpers;
mod rollups;
