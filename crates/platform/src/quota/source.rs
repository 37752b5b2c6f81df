//! Where a tenant's tier comes from when Redis has not cached it.

use domain::Tier;
use domain::usage::Entitlements;
use uuid::Uuid;

use crate::future::BoxFuture;
use crate::internal_http::InternalHttp;

/// Where a tenant's tier comes from when it is not cached.
pub trait TierSource: Send + Sync + 'static {
    /// The tenant's current tier.
    fn tier(&self, tenant: Uuid) -> BoxFuture<'_, anyhow::Result<Tier>>;
}

/// Billing's `GET /internal/v1/entitlements/{tenant}`.
#[derive(Debug, Clone)]
pub struct HttpTierSource(pub InternalHttp);

impl TierSource for HttpTierSource {
    fn tier(&self, tenant: Uuid) -> BoxFuture<'_, anyhow::Result<Tier>> {
        Box::pin(async move {
            let url = self
                .0
                .billing(&format!("/internal/v1/entitlements/{tenant}"));
            let e: Entitlements = self.0.get_json_once(url).await?;
            Ok(e.tier)
        })
    }
}
