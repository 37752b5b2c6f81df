//! All SQL of the analytics service. Every function takes a client (a pooled connection or
//! the feed page's transaction); tenant-facing reads take the tenant id.

pub mod agents;
pub mod credentials;
pub mod projection;
pub mod rollups;
