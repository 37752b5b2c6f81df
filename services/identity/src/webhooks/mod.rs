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
//! - Signature: `X-AgentIdP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//!   "<t>.<body>")>`; receivers recompute it over the raw body, compare in constant time and
//!   reject timestamps older than a few minutes.

pub mod deliver;
pub mod fanout;
pub mod guard;

use aws_lc_rs::hmac;
use uuid::Uuid;

use crate::crypto::{Kek, b64url, random_bytes};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-agentidp-signature";

/// A new signing secret: `whsec_` and 256 random bits.
pub fn new_secret() -> anyhow::Result<String> {
    Ok(format!("whsec_{}", b64url(random_bytes::<32>()?)))
}

fn aad(webhook: Uuid) -> Vec<u8> {
    format!("webhook:{webhook}").into_bytes()
}

/// Seals a webhook's secret for storage.
pub fn seal_secret(kek: &Kek, webhook: Uuid, secret: &str) -> anyhow::Result<Vec<u8>> {
    kek.seal(&aad(webhook), secret.as_bytes())
}

/// Opens a stored secret.
pub fn open_secret(kek: &Kek, webhook: Uuid, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    kek.open(&aad(webhook), sealed)
}

/// The signature header value for `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={timestamp},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// The wait before attempt `attempt + 1`, after `attempt` failures.
pub fn backoff(
    attempt: u32,
    base: std::time::Duration,
    max: std::time::Duration,
) -> std::time::Duration {
    let factor = 1_u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(3600);
        let waits: Vec<u64> = (1..=10).map(|a| backoff(a, base, max).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(backoff(40, base, max), max);
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let s = signature(b"secret", 1_700_000_000, b"{\"a\":1}");
        assert!(s.starts_with("t=1700000000,v1="));
        assert_eq!(s.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature(b"secret", 1_700_000_001, b"{\"a\":1}"));
        assert_ne!(s, signature(b"secret", 1_700_000_000, b"{\"a\":2}"));
        assert_ne!(s, signature(b"other", 1_700_000_000, b"{\"a\":1}"));
    }
}
