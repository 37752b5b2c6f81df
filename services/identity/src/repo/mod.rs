//! All SQL of the identity service. Every function that touches tenant-owned rows takes the
//! tenant id and filters on it; columns are always named.

pub mod agents;
pub mod audit;
pub mod clients;
pub mod deliveries;
pub mod keys;
pub mod revocations;
pub mod tenants;
pub mod webhooks;
