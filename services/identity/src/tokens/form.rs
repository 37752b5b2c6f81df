//! The form body of a token, introspection or revocation request (RFC 6749 §3.1), and why a
//! request could not be read.

use std::borrow::Cow;

/// Why a request could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `invalid_request`: malformed.
    #[error("{0}")]
    Invalid(Cow<'static, str>),
    /// `unsupported_grant_type`.
    #[error("grant_type {0} is not supported")]
    UnsupportedGrantType(String),
    /// `invalid_client`: no usable client authentication.
    #[error("client authentication failed")]
    InvalidClient,
}

/// The parameters of a token, introspection or revocation request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    /// `grant_type`.
    pub grant_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `audience`.
    pub audience: Option<String>,
    /// `resource` (RFC 8707), an alternative to `audience`.
    pub resource: Option<String>,
    /// `client_id` (client_secret_post).
    pub client_id: Option<String>,
    /// `client_secret` (client_secret_post).
    pub client_secret: Option<String>,
    /// `token` (introspection, revocation).
    pub token: Option<String>,
    /// `token_type_hint`.
    pub token_type_hint: Option<String>,
    /// `subject_token` (token exchange).
    pub subject_token: Option<String>,
    /// `subject_token_type` (token exchange).
    pub subject_token_type: Option<String>,
    /// `actor_token` (token exchange; not supported: the actor authenticates as a client).
    pub actor_token: Option<String>,
    /// `requested_token_type` (token exchange).
    pub requested_token_type: Option<String>,
    /// `agent_id` (federated token exchange, when several agents' policies match).
    pub agent_id: Option<String>,
    /// `client_assertion` (private_key_jwt, RFC 7523).
    pub client_assertion: Option<String>,
    /// `client_assertion_type`.
    pub client_assertion_type: Option<String>,
}

impl Params {
    /// Parses an `application/x-www-form-urlencoded` body; repeated parameters are refused
    /// and unknown ones ignored, as RFC 6749 §3.1 requires.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, RequestError> {
        let essence = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(RequestError::Invalid(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
        let mut p = Self::default();
        for (k, v) in form_urlencoded::parse(body) {
            let slot = match k.as_ref() {
                "grant_type" => &mut p.grant_type,
                "scope" => &mut p.scope,
                "audience" => &mut p.audience,
                "resource" => &mut p.resource,
                "client_id" => &mut p.client_id,
                "client_secret" => &mut p.client_secret,
                "token" => &mut p.token,
                "token_type_hint" => &mut p.token_type_hint,
                "subject_token" => &mut p.subject_token,
                "subject_token_type" => &mut p.subject_token_type,
                "actor_token" => &mut p.actor_token,
                "requested_token_type" => &mut p.requested_token_type,
                "agent_id" => &mut p.agent_id,
                "client_assertion" => &mut p.client_assertion,
                "client_assertion_type" => &mut p.client_assertion_type,
                _ => continue,
            };
            if slot.is_some() {
                return Err(RequestError::Invalid(
                    format!("parameter {k} is repeated").into(),
                ));
            }
            *slot = Some(v.into_owned());
        }
        Ok(p)
    }
}
