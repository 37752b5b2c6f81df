//! Integration tests of the identity service against real PostgreSQL and Redis.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on unexpected errors"
)]

mod actions;
mod admin_clients;
mod agent_lifecycle;
mod agents;
mod audit;
mod bounded;
mod cards;
mod changes;
mod client_keys;
mod commands;
mod crash;
mod credentials;
mod delegation;
mod dpop;
mod federation;
mod federation_policies;
mod feed;
mod helpers;
mod kek_rotation;
mod keys;
mod listeners;
mod oauth;
mod privileges;
mod resource_servers;
mod retention;
mod revocation;
mod rotation;
mod tenants;
mod verify_bounds;
mod webhook_bounds;
mod webhooks;
