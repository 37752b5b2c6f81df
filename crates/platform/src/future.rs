//! [`BoxFuture`]: the boxed future of the object-safe traits across the crate (key sources,
//! revocation fallbacks, usage sinks, tier sources, feed projections).

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
