//! Reading a token exchange request (RFC 8693 §2.1): the subject token and its type, the
//! options this server supports, and `agent_id` for federation.

use super::form::{Params, RequestError};

/// `grant_type` of token exchange (RFC 8693).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type URIs (RFC 8693 §3).
pub mod token_types {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
}

/// What a token exchange presents as its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectType {
    /// An external issuer's token (`id_token` or `jwt`): federation.
    External,
    /// One of our access tokens: delegation to the authenticated client's agent.
    AccessToken,
}

/// A token exchange request (RFC 8693 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `subject_token`.
    pub subject_token: String,
    /// From `subject_token_type`.
    pub subject: SubjectType,
    /// `agent_id`: which agent's policy, when several agents' policies match.
    pub agent_id: Option<uuid::Uuid>,
}

impl Exchange {
    /// Reads the exchange's parameters out of `p`.
    pub(super) fn parse(p: &mut Params) -> Result<Self, RequestError> {
        let invalid = |m: &'static str| RequestError::Invalid(m.into());
        let subject_token = p
            .subject_token
            .take()
            .filter(|t| !t.is_empty())
            .ok_or(invalid("subject_token is required"))?;
        let subject = match p.subject_token_type.as_deref() {
            Some(token_types::ID_TOKEN | token_types::JWT) => SubjectType::External,
            Some(token_types::ACCESS_TOKEN) => SubjectType::AccessToken,
            Some(_) => {
                return Err(invalid(
                    "subject_token_type must be urn:ietf:params:oauth:token-type:id_token, :jwt or :access_token",
                ));
            }
            None => return Err(invalid("subject_token_type is required")),
        };
        if p.actor_token.is_some() {
            return Err(invalid(
                "actor_token is not supported: the actor authenticates as a client",
            ));
        }
        if p.requested_token_type
            .as_deref()
            .is_some_and(|t| t != token_types::ACCESS_TOKEN)
        {
            return Err(invalid(
                "requested_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ));
        }
        let agent_id = match p.agent_id.take() {
            Some(a) if subject == SubjectType::External => Some(
                uuid::Uuid::parse_str(&a).map_err(|_| invalid("agent_id must be an agent id"))?,
            ),
            Some(_) => return Err(invalid("agent_id is only for federated token exchange")),
            None => None,
        };
        Ok(Self {
            subject_token,
            subject,
            agent_id,
        })
    }
}
