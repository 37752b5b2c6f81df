//! Dependency-light types shared by AgentIdP services.
//!
//! No web framework, runtime or database crate may appear here: services and the test
//! harness share these types without sharing infrastructure.

pub mod agent;
pub mod audit;
pub mod cards;
pub mod did;
pub mod feed;
pub mod revocation;
pub mod scope;
pub mod tier;
pub mod usage;

pub use agent::{AgentStatus, AgentType, DeploymentEnv};
pub use feed::{AgentSnapshot, FeedCursor, FeedEvent, FeedPage};
pub use scope::Scope;
pub use tier::{TIERS, Tier, TierLimits};
