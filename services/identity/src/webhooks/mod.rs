//! Tenant webhooks: subscriptions to event types, signed deliveries driven by the change
//! feed, retries with exponential backoff, a dead letter, and the SSRF guard.
//!
//! - Fan-out ([`fanout`]): one instance at a time reads the feed (cursor `webhooks` in
//!   `feed_cursors`, locked for the page) and writes one delivery per matching subscription
//!   and event, in the same transaction as the cursor.
//! - Delivery ([`deliver`]): every instance claims due deliveries with `FOR UPDATE SKIP
//!   LOCKED` and a lease, posts them, and records each attempt. A failed attempt is retried
//!   after `WEBHOOK_RETRY_BASE_MS × 2^(attempt-1)` (at most `WEBHOOK_RETRY_MAX_MS`); after
//!   `WEBHOOK_MAX_ATTEMPTS` the delivery is dead-lettered and can be redelivered by hand.
//! - Subscriptions ([`subscriptions`]): saved after the SSRF [`guard`] checked their URL, each
//!   change audited.
//! - Signature ([`signing`]): `X-AgentIdP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//!   "<t>.<body>")>`; receivers recompute it over the raw body, compare in constant time and
//!   reject timestamps older than a few minutes.

pub mod deliver;
pub mod fanout;
pub mod guard;
pub mod signing;
pub mod subscriptions;

pub use deliver::Dispatcher;
pub use subscriptions::{SubscriptionError, Subscriptions};
