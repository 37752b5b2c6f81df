//! Tier enforcement: daily counters in Redis checked against the tenant's tier.
//!
//! - `tier:<tenant>` holds the tenant's tier (`free`, `pro`, `enterprise`) for
//!   `TIER_CACHE_TTL_SECS` (60 s); on a miss it is fetched from billing
//!   (`GET /internal/v1/entitlements/{tenant}`, or billing's own store inside billing). Billing
//!   deletes the key when a webhook changes a tenant's subscription, so a change is seen at
//!   once, and within the TTL at worst.
//! - `usage:<tenant>:<YYYY-MM-DD>:<metric>` counts a tenant's calls of one UTC day; it expires
//!   an hour after the next midnight UTC.
//!
//! One Lua script reads the tier and the counter and, when the call is allowed, counts it:
//! one round trip per call. A refused call is not counted. Past the limit the answer is 429
//! with `Retry-After` = seconds to the next midnight UTC and a problem body naming the limit.
//!
//! Fail open: when Redis or billing cannot answer, calls are allowed (and not counted in
//! Redis); the failure is logged at most once a minute, and a Redis failure shows as a
//! `degraded` `quota` component in `/health/detailed` for a minute. `BILLING_ENABLED=false`
//! turns all of this off; `TIER_ENFORCEMENT=false` counts but never refuses.

mod enforcer;
mod health;
mod record;
mod script;
mod source;
mod tier;
mod verdict;

pub use enforcer::{Quota, RECORD_DELAY};
pub use source::{HttpTierSource, TierSource};
pub use verdict::{Exceeded, Verdict, secs_to_midnight};
