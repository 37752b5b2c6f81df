//! `POST /internal/v1/revocations/check`: how services other than identity learn whether a
//! token is revoked when Redis cannot tell them.

use serde::{Deserialize, Serialize};

use crate::wire::wire_enum;

wire_enum!(
    /// What a revocation covers, as stored in identity's `token_revocations.kind`.
    RevocationKind {
        /// One token, by `jti`.
        Token => "jti",
        /// Every token of an agent (`sub`).
        Agent => "sub",
        /// Every token of a credential (`client_id`).
        Client => "client",
    }
);

/// The token in question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationQuery {
    /// Its `jti`.
    pub jti: String,
    /// Its `sub`.
    pub sub: String,
    /// Its `client_id`.
    pub client_id: String,
    /// When it was issued, Unix milliseconds.
    pub issued_at_ms: i64,
    /// For a delegated token: the other token revocations that cover it (its subject
    /// tokens' `jti`s and `grant:<id>` of its grants).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_jtis: Vec<String>,
    /// For a delegated token: its actors, whose agent cut-offs cover it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_subs: Vec<String>,
    /// For a delegated token: its subject tokens' credentials, whose cut-offs cover it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_clients: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationAnswer {
    /// Whether a revocation covers the token.
    pub revoked: bool,
}
