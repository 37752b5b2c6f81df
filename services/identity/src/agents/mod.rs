//! Agents: registration, reads, their representation, lifecycle changes, and the public
//! documents about them (A2A agent card, DID document).
//!
//! - [`service`]: the [`Agents`] service and its reads;
//! - [`view`]: the API representation (also the `agent` of change-feed events);
//! - [`lifecycle`]: registration, changes and transitions, each one audited change
//!   (suspension and decommissioning also revoke the agent's tokens, and decommissioning its
//!   credentials; after the commit the revocations are published and this instance's
//!   credential cache forgets the agent, so the change takes effect here at once and
//!   elsewhere within a second);
//! - [`privileges`]: who may give an agent which scopes (no self-granted privileges);
//! - [`error`]: what the caller is told when a rule refuses.
//!
//! The fields and their validation are the domain's ([`domain::NewAgent`],
//! [`domain::AgentPatch`], [`domain::AgentFields`]).

pub mod error;
pub mod lifecycle;
pub mod privileges;
pub mod service;
pub mod view;

pub use error::AgentError;
pub use lifecycle::Transition;
pub use privileges::{Grantor, PrivilegeError};
pub use service::Agents;
