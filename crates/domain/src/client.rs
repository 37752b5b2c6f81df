//! OAuth clients (credentials): what they belong to and whether they still work, as
//! stored in identity's `clients.kind` and `clients.status`.

use crate::wire::wire_enum;

wire_enum!(
    /// Whom a client acts for.
    ClientKind {
        /// An agent's credential (`agent_id` set).
        Agent => "agent",
        /// A tenant's administrative credential.
        TenantAdmin => "tenant_admin",
        /// One of AgentIdP's own services (no tenant; `service_name` set).
        Service => "service",
    }
);

wire_enum!(
    /// Whether a client may still obtain tokens.
    ClientStatus {
        /// Usable.
        Active => "active",
        /// Revoked for good.
        Revoked => "revoked",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_match_the_stored_text() {
        for (kind, wire) in [
            (ClientKind::Agent, "agent"),
            (ClientKind::TenantAdmin, "tenant_admin"),
            (ClientKind::Service, "service"),
        ] {
            assert_eq!(kind.as_str(), wire);
            assert_eq!(kind.to_string(), wire);
            assert_eq!(wire.parse::<ClientKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), wire);
            assert_eq!(
                serde_json::from_value::<ClientKind>(wire.into()).unwrap(),
                kind
            );
        }
        assert_eq!(
            "admin".parse::<ClientKind>(),
            Err("must be one of: agent, tenant_admin, service".to_owned())
        );
        assert_eq!("revoked".parse::<ClientStatus>(), Ok(ClientStatus::Revoked));
        assert_eq!(ClientStatus::Active, "active");
        assert!(serde_json::from_value::<ClientStatus>("Active".into()).is_err());
    }
}

wire_enum!(
    /// Who issues the external tokens a federation trust policy accepts.
    FederationProvider {
        /// GitHub Actions' OIDC issuer (`https://token.actions.githubusercontent.com`).
        GithubActions => "github_actions",
        /// Any OpenID Connect issuer.
        Oidc => "oidc",
    }
);
