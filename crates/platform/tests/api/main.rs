//! Integration tests of the shared platform: a minimal application built from `platform`
//! alone (`app::Core` and `Application::start` with a few test routes, see [`support`]),
//! against real PostgreSQL and Redis, isolated per test by `testkit`.

#![expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod auth;
mod budget;
mod health;
mod limits;
mod listeners;
mod pool;
mod proxies;
mod service_main;
mod support;
mod tls;
