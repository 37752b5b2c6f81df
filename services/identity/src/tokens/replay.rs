//! Single use across instances: an id is recorded in Redis (`SET NX`) until the token that
//! carries it expires, so external tokens, client assertions and DPoP proofs are each
//! accepted once. A Redis failure refuses (a replay check is never skipped).

use platform::Failure;
use platform::redis::Redis;
use time::OffsetDateTime;

/// Kept this long past `exp`, beyond every verification leeway.
const AFTER_EXPIRY_SECS: i64 = 60;

/// The replay store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Replays(pub Redis);

impl Replays {
    /// Records `id` of kind `what` until `exp` (unix seconds); `false` when it was recorded
    /// before, on any instance. `id` is hashed, so any text may be used.
    pub async fn first_use(&self, what: &str, id: &str, exp: i64) -> Result<bool, Failure> {
        let digest = hex::encode(crate::crypto::sha256(id.as_bytes()));
        let key = self.0.key("once", &format!("{what}:{digest}"));
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let ttl_ms = ((exp - now).max(0) + AFTER_EXPIRY_SECS) * 1000;
        self.0
            .set_once(&key, ttl_ms)
            .await
            .map_err(|e| Failure::from(anyhow::anyhow!("replay store: {e}")))
    }
}
