//! Webhook secrets (sealed at rest) and the signature of deliveries.

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

#[cfg(test)]
mod tests {
    use super::*;

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
