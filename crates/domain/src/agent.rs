//! Agent enumerations (SPEC §3), shared by identity and the projections that read its feed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire form.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The accepted wire forms, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("must be one of: {}", Self::expected()))
            }
        }
    };
}

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
