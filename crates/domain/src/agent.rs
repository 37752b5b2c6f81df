//! Agent enumerations (SPEC §3), shared by identity and the projections that read its feed.

use crate::wire::wire_enum;

wire_enum!(
    /// What an agent does.
    AgentType {
        /// Screens inputs.
        Screener => "screener",
        /// Classifies.
        Classifier => "classifier",
        /// Coordinates other agents.
        Orchestrator => "orchestrator",
        /// Extracts data.
        Extractor => "extractor",
        /// Summarizes.
        Summarizer => "summarizer",
        /// Routes work.
        Router => "router",
        /// Watches systems.
        Monitor => "monitor",
        /// Anything else.
        Custom => "custom",
    }
);

wire_enum!(
    /// Where an agent runs.
    DeploymentEnv {
        /// Development.
        Development => "development",
        /// Staging.
        Staging => "staging",
        /// Production.
        Production => "production",
    }
);

wire_enum!(
    /// An agent's lifecycle state.
    AgentStatus {
        /// May obtain tokens.
        Active => "active",
        /// Temporarily barred; may be reactivated.
        Suspended => "suspended",
        /// Retired for good; keeps its history.
        Decommissioned => "decommissioned",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_serialize() {
        assert_eq!("router".parse::<AgentType>(), Ok(AgentType::Router));
        assert!(
            "robot"
                .parse::<AgentType>()
                .unwrap_err()
                .contains("screener")
        );
        assert_eq!(
            serde_json::to_string(&DeploymentEnv::Staging).unwrap(),
            "\"staging\""
        );
        assert_eq!(AgentStatus::ALL.len(), 3);
    }
}
