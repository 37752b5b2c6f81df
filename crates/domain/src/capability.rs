//! Capabilities: what an agent may do, as `resource:action` scopes its credentials can be
//! granted.

use crate::list::parse_list;
use crate::problems::FieldProblems;
use crate::scope::{Scope, is_valid_scope_token};
use crate::wire::checked_string;

/// A `resource:action` scope token ([`is_valid_scope_token`] with a `:`; the action may be
/// `*`), never `internal`. [`Capability::parse`] trims first; case is kept, so `Docs:read`
/// is refused rather than lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Capability(String);

/// Why a string is not a [`Capability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be resource:action in lowercase letters, digits and _.- (e.g. documents:read)")]
pub struct InvalidCapability;

impl Capability {
    /// Most capabilities an agent has.
    pub const MAX_PER_AGENT: usize = 64;

    /// The capability `s` names, trimmed.
    pub fn parse(s: &str) -> Result<Self, InvalidCapability> {
        let c = s.trim();
        if c == Scope::Internal.as_str() || !is_valid_scope_token(c) || !c.contains(':') {
            Err(InvalidCapability)
        } else {
            Ok(Self(c.to_owned()))
        }
    }

    /// An agent's capabilities, duplicates dropped. Problems come as
    /// `("capabilities", "at most 64 capabilities")` and `("capabilities[i]", message)`
    /// pairs, all at once.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Self>, FieldProblems> {
        parse_list(
            "capabilities",
            items,
            Self::MAX_PER_AGENT,
            "at most 64 capabilities",
            Self::parse,
        )
    }
}

checked_string!(Capability, InvalidCapability);

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str =
        "must be resource:action in lowercase letters, digits and _.- (e.g. documents:read)";

    #[test]
    fn capabilities_are_resource_action_scope_tokens() {
        assert_eq!(
            Capability::parse(" documents:read ").unwrap(),
            "documents:read"
        );
        assert_eq!(
            Capability::parse("invoices:*").unwrap().as_str(),
            "invoices:*"
        );
        assert_eq!(
            Capability::parse("tickets.v2:route_fast-1").unwrap(),
            "tickets.v2:route_fast-1"
        );
        let longest = format!("{}:{}", "r".repeat(64), "a".repeat(64));
        assert!(Capability::parse(&longest).is_ok());
        for bad in [
            String::new(),
            "read".into(),
            "internal".into(),
            " internal ".into(),
            "Documents:read".into(),
            "documents:Read".into(),
            "*:read".into(),
            ":read".into(),
            "documents:".into(),
            "a:b:c".into(),
            "docs :read".into(),
            format!("{}:a", "r".repeat(65)),
            format!("r:{}", "a".repeat(65)),
        ] {
            assert_eq!(Capability::parse(&bad), Err(InvalidCapability), "{bad:?}");
        }
        assert_eq!(InvalidCapability.to_string(), MESSAGE);
    }

    #[test]
    fn lists_drop_duplicates_and_report_every_problem() {
        assert_eq!(
            Capability::parse_list(&["a:read", " a:read", "b:write"]).unwrap(),
            ["a:read", "b:write"]
        );
        assert_eq!(
            Capability::parse_list(&["a:read", "internal", "b:write", "nope"]).unwrap_err(),
            [
                ("capabilities[1]".to_owned(), MESSAGE.to_owned()),
                ("capabilities[3]".to_owned(), MESSAGE.to_owned()),
            ]
        );
    }

    #[test]
    fn lists_hold_at_most_64_capabilities() {
        let max: Vec<String> = (0..64).map(|i| format!("r{i}:read")).collect();
        assert_eq!(Capability::parse_list(&max).unwrap().len(), 64);
        let over: Vec<String> = (0..65).map(|i| format!("r{i}:read")).collect();
        assert_eq!(
            Capability::parse_list(&over).unwrap_err(),
            [(
                "capabilities".to_owned(),
                "at most 64 capabilities".to_owned()
            )]
        );
    }

    #[test]
    fn serde_is_a_plain_checked_string() {
        let c: Capability = serde_json::from_str("\"documents:read\"").unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), "documents:read");
        assert!(serde_json::from_str::<Capability>("\"internal\"").is_err());
    }
}
