//! All SQL of the billing service; every function takes a client and, where a tenant owns
//! the rows, the tenant id.

pub mod events;
pub mod subscriptions;
pub mod usage;
