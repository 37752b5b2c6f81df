//! All SQL of the marketplace. Every table lives in the `marketplace` schema (first on the
//! connections' search path); nothing here reads another service's schema.

pub mod index;
pub mod listings;
pub mod search;
pub mod seed;
pub mod versions;
