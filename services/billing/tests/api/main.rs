//! Integration tests of the billing service against real PostgreSQL and Redis, with identity
//! running beside it (tokens, tier enforcement) and a local fake of Stripe's API.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on unexpected errors"
)]

mod auth;
mod checkout;
mod enforcement;
mod helpers;
mod usage;
mod webhooks;
