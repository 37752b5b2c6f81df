//! No self-granted privileges: who may bind which scopes to an agent.
//!
//! Binding a scope to an agent is giving it (or whoever holds one of its credentials) that
//! scope: a capability on registration or change, and a credential's scopes on creation or
//! rotation (which hands its secret out). The rules, for every scope bound anew:
//! - a platform scope ([`domain::scope::is_platform_scope`]: `agents:*`, `admin:tenant`,
//!   `billing:*`, ...) only by a caller holding `admin:tenant` and that scope itself;
//! - any other scope by a caller holding `admin:tenant` (the tenant's own vocabulary), or
//!   else only one the caller holds itself;
//! - an agent (a token whose `sub` is the agent's id) never changes its own capabilities.
//!
//! Refusals store nothing (403 with a code per rule).

use domain::Scope;
use domain::scope::{is_platform_scope, scope_string_has};
use platform::auth::Claims;
use uuid::Uuid;

/// Why a caller may not bind a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivilegeError {
    /// A platform scope, by a caller without `admin:tenant`.
    #[error("only a caller holding admin:tenant may give the platform scope {0}")]
    PlatformScopeNeedsAdmin(String),
    /// A scope the caller does not hold.
    #[error("the caller does not hold the scope {0}, so it cannot give it")]
    ScopeNotHeld(String),
    /// An agent changing its own capabilities.
    #[error("an agent cannot change its own capabilities")]
    OwnCapabilities,
}

/// The caller of a change that binds scopes to an agent, as its token says.
#[derive(Debug, Clone)]
pub struct Grantor {
    /// The audit actor (`client:<client_id>`).
    pub actor: String,
    /// The token's subject (an agent's id for an agent's token).
    sub: String,
    /// The token's scopes, space-separated.
    scope: String,
}

impl Grantor {
    /// The caller holding `claims`, recorded in the audit log as `actor`.
    pub fn new(actor: String, claims: &Claims) -> Self {
        Self {
            actor,
            // A delegated token's subject is the agent another one acts for: its holder is
            // not that agent.
            sub: if claims.act.is_some() {
                String::new()
            } else {
                claims.sub.clone()
            },
            scope: claims.scope.clone(),
        }
    }

    fn holds(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    fn is_admin(&self) -> bool {
        scope_string_has(&self.scope, Scope::AdminTenant)
    }

    /// Whether the caller is the agent `id` itself.
    pub fn is_agent(&self, id: Uuid) -> bool {
        Uuid::parse_str(&self.sub).is_ok_and(|sub| sub == id)
    }

    /// Whether the caller may bind every one of `scopes` (the first it may not is named).
    pub fn may_bind<'a>(
        &self,
        scopes: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), PrivilegeError> {
        let admin = self.is_admin();
        for s in scopes {
            if is_platform_scope(s) && !admin {
                return Err(PrivilegeError::PlatformScopeNeedsAdmin(s.to_owned()));
            }
            if !self.holds(s) && (is_platform_scope(s) || !admin) {
                return Err(PrivilegeError::ScopeNotHeld(s.to_owned()));
            }
        }
        Ok(())
    }

    /// Whether the caller may change agent `id`'s capabilities from `before` to `after`:
    /// never its own; otherwise each added one as [`Grantor::may_bind`] says.
    pub fn may_change_capabilities(
        &self,
        id: Uuid,
        before: &[&str],
        after: &[&str],
    ) -> Result<(), PrivilegeError> {
        let same = before.len() == after.len() && after.iter().all(|c| before.contains(c));
        if same {
            return Ok(());
        }
        if self.is_agent(id) {
            return Err(PrivilegeError::OwnCapabilities);
        }
        self.may_bind(after.iter().copied().filter(|c| !before.contains(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grantor(sub: &str, scope: &str) -> Grantor {
        Grantor {
            actor: "client:x".into(),
            sub: sub.into(),
            scope: scope.into(),
        }
    }

    #[test]
    fn the_rules() {
        let admin = grantor("aidp_x", "admin:tenant agents:read agents:write");
        assert_eq!(admin.may_bind(["agents:read", "documents:write"]), Ok(()));
        assert_eq!(
            admin.may_bind(["billing:write"]),
            Err(PrivilegeError::ScopeNotHeld("billing:write".into()))
        );
        let writer = grantor("aidp_y", "agents:write documents:read");
        assert_eq!(writer.may_bind(["documents:read"]), Ok(()));
        assert_eq!(
            writer.may_bind(["agents:write"]),
            Err(PrivilegeError::PlatformScopeNeedsAdmin(
                "agents:write".into()
            ))
        );
        assert_eq!(
            writer.may_bind(["documents:write"]),
            Err(PrivilegeError::ScopeNotHeld("documents:write".into()))
        );
        let id = Uuid::now_v7();
        let agent = grantor(&id.to_string(), "admin:tenant agents:write");
        assert_eq!(
            agent.may_change_capabilities(id, &["a:b"], &[]),
            Err(PrivilegeError::OwnCapabilities)
        );
        assert_eq!(
            agent.may_change_capabilities(id, &["a:b"], &["a:b"]),
            Ok(())
        );
        assert_eq!(
            agent.may_change_capabilities(Uuid::now_v7(), &["a:b"], &["c:d"]),
            Ok(())
        );
    }
}
