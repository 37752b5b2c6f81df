//! Dependency-light types shared by AgentIdP services.
//!
//! No web framework, runtime or database crate may appear here: services and the test
//! harness share these types without sharing infrastructure.
//!
//! Each rule about an agent's fields lives here once: [`Tag`], [`Capability`], [`Version`],
//! [`TextRule`] for free text, the wire enums ([`AgentType`], [`DeploymentEnv`],
//! [`AgentStatus`], [`ClientKind`], [`ClientStatus`], [`TenantStatus`], [`Outcome`],
//! [`RevocationKind`], [`DeliveryStatus`]), and
//! [`AgentFields`], checked all at once by [`NewAgent::validate`] and [`AgentPatch::apply`].

mod list;
mod wire;

pub mod agent;
pub mod agent_fields;
pub mod agent_input;
pub mod audit;
pub mod capability;
pub mod cards;
pub mod client;
pub mod did;
pub mod feed;
pub mod problems;
pub mod revocation;
pub mod scope;
pub mod tag;
pub mod tenant;
pub mod text;
pub mod tier;
pub mod usage;
pub mod version;
pub mod webhook;

pub use agent::{AgentStatus, AgentType, DeploymentEnv};
pub use agent_fields::AgentFields;
pub use agent_input::{AgentPatch, NewAgent};
pub use audit::Outcome;
pub use capability::{Capability, InvalidCapability};
pub use client::{ClientKind, ClientStatus, FederationProvider};
pub use feed::{AgentSnapshot, FeedCursor, FeedEvent, FeedPage};
pub use problems::FieldProblems;
pub use revocation::RevocationKind;
pub use scope::Scope;
pub use tag::{InvalidTag, Tag};
pub use tenant::TenantStatus;
pub use text::{TextError, TextRule};
pub use tier::{TIERS, Tier, TierLimits};
pub use version::{InvalidVersion, Version};
pub use webhook::DeliveryStatus;
