//! All SQL of the identity service. Every function that touches tenant-owned rows takes the
//! tenant id and filters on it; columns are always named. Stored strings are read through
//! the domain's types ([`stored`]).

pub mod admin_clients;
pub mod agents;
pub mod audit;
pub mod audit_batch;
pub mod checkpoints;
pub mod clients;
pub mod delegations;
pub mod deliveries;
pub mod federation;
pub mod feed;
pub mod keys;
pub mod locks;
pub mod resource_servers;
pub mod revocations;
pub mod sealed;
pub mod stored;
pub mod tenants;
pub mod webhooks;
