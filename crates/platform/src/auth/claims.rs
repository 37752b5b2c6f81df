//! The claims of an access token.

use domain::Scope;
use serde::Deserialize;
use uuid::Uuid;

/// The `aud` claim: one string or several.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is among the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => v.iter().any(|a| a == aud),
        }
    }

    /// Whether `aud` is the only audience.
    pub fn is_only(&self, aud: &str) -> bool {
        match self {
            Self::One(a) => a == aud,
            Self::Many(v) => matches!(v.as_slice(), [a] if a == aud),
        }
    }
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the agent id, or the client id of a tenant-admin or service client.
    pub sub: String,
    /// Audience.
    pub aud: Audience,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    #[serde(default)]
    pub nbf: i64,
    /// Token id.
    pub jti: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// The tenant; absent for service tokens.
    #[serde(default)]
    pub tenant_id: Option<Uuid>,
    /// Who acts for `sub` (RFC 8693 §4.1), on a delegated token; nested for a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// On a token obtained by federation: the external token's issuer and subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fed: Option<Federated>,
    /// On a delegated token: for each exchange of the chain, the standing grant and the
    /// subject token it was derived from (revoking either revokes this token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dlg: Vec<Link>,
    /// On a DPoP-bound token: the thumbprint of the key its every use must prove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<super::dpop::Confirmation>,
}

/// The `act` claim: the current actor, and the actor before it.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Actor {
    /// The actor's agent id.
    pub sub: String,
    /// The prior actor, in a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// The actors, current first.
    pub fn chain(&self) -> impl Iterator<Item = &Actor> {
        std::iter::successors(Some(self), |a| a.act.as_deref())
    }

    /// How many actors the chain holds.
    pub fn depth(&self) -> usize {
        self.chain().count()
    }
}

/// The `fed` claim.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Federated {
    /// The external token's `iss`.
    pub iss: String,
    /// The external token's `sub`.
    pub sub: String,
}

/// One exchange of a delegation chain.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Link {
    /// The standing grant's id.
    pub grant: String,
    /// The subject token's `jti`.
    pub jti: String,
    /// The subject token's `client_id`.
    pub client_id: String,
    /// The grant's `max_depth`: how many actors a chain through it may hold.
    pub max_depth: u8,
}

/// The revocation-store name of a delegation grant: a token revocation of `grant:<id>`.
pub fn grant_revocation_subject(grant: &str) -> String {
    format!("grant:{grant}")
}

/// What a revocation covering a token may name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RevocationSubjects<'a> {
    /// Token revocations (`jti`, by presence): the token, its subject tokens, its grants.
    pub jtis: Vec<std::borrow::Cow<'a, str>>,
    /// Agent cut-offs (`sub`): the subject and every actor.
    pub subs: Vec<&'a str>,
    /// Credential cut-offs (`client_id`): the token's and its subject tokens'.
    pub clients: Vec<&'a str>,
}

impl Claims {
    /// When the token was issued, in unix milliseconds: from the UUIDv7 `jti` identity puts in
    /// every token (signed, so it cannot be altered), else the start of the `iat` second.
    pub fn issued_at_ms(&self) -> i64 {
        Uuid::parse_str(&self.jti)
            .ok()
            .filter(|u| u.get_version_num() == 7)
            .and_then(|u| u.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                secs as i64 * 1000 + i64::from(nanos / 1_000_000)
            })
            .unwrap_or(self.iat.saturating_mul(1000))
    }

    /// Everything whose revocation revokes this token: itself, its agent and credential,
    /// and for a delegated token every actor, subject token and grant of its chain.
    pub fn revocation_subjects(&self) -> RevocationSubjects<'_> {
        let mut r = RevocationSubjects {
            jtis: vec![self.jti.as_str().into()],
            subs: vec![self.sub.as_str()],
            clients: vec![self.client_id.as_str()],
        };
        for a in self.act.iter().flat_map(Actor::chain) {
            r.subs.push(&a.sub);
        }
        for l in &self.dlg {
            r.jtis.push(l.jti.as_str().into());
            r.jtis.push(grant_revocation_subject(&l.grant).into());
            r.clients.push(&l.client_id);
        }
        r
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        domain::scope::scope_string_has(&self.scope, scope)
    }
}
