//! Why an agent rule refused.

use domain::Tier;
use platform::errors::FieldError;

use platform::Failure;

use super::privileges::PrivilegeError;

/// Why an agent operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Fields that break their rules (422, every problem at once).
    #[error("{} fields are invalid", .0.len())]
    Invalid(Vec<FieldError>),
    /// No such agent in the tenant (or at all, for public documents).
    #[error("agent not found")]
    NotFound,
    /// The agent is decommissioned and cannot change (409).
    #[error("{0}")]
    Decommissioned(&'static str),
    /// The agent is decommissioned: its public documents are gone (410).
    #[error("{0}")]
    Gone(&'static str),
    /// The tenant's tier allows no more agents.
    #[error("the {tier} tier allows {max} agents; decommission one or upgrade")]
    QuotaExceeded {
        /// The tenant's tier.
        tier: Tier,
        /// Its agent limit.
        max: u64,
    },
    /// The caller may not give the agent these capabilities (403).
    #[error(transparent)]
    Privilege(#[from] PrivilegeError),
    /// A dependency failed.
    #[error(transparent)]
    Failure(Failure),
}

platform::failure_from!(AgentError);

impl From<domain::problems::FieldProblems> for AgentError {
    fn from(problems: domain::problems::FieldProblems) -> Self {
        Self::Invalid(
            problems
                .into_iter()
                .map(|(field, message)| FieldError::new(field, message))
                .collect(),
        )
    }
}
