//! Federation (SPEC §4): external OIDC tokens (GitHub Actions, any OpenID Connect issuer)
//! exchanged for agent tokens through the tenants' trust policies, with no stored secret.
//!
//! - [`policies`]: the tenants' trust policies (CRUD, audited).
//! - [`conditions`]: what a policy requires of the external token's claims.
//! - [`issuers`]: the external issuers' keys, through discovery, behind the SSRF guard.
//! - [`external`]: verifying an external token.
//! - [`cache`]: the policies of each issuer, as the exchange reads them.
//!
//! The exchange itself is a grant of the token endpoint ([`crate::tokens::exchange`]).

pub mod cache;
pub mod conditions;
pub mod external;
pub mod issuers;
pub mod policies;

use platform::Failure;
use uuid::Uuid;

pub use cache::PolicyCache;
use external::External;
pub use issuers::Issuers;
pub use policies::{TrustPolicies, TrustPolicyError};

use crate::repo::federation::MatchRow;
use crate::tokens::replay::Replays;

/// What the exchange needs of federation; cheap to clone.
#[derive(Debug, Clone)]
pub struct Federation {
    /// The policies per issuer.
    pub policies: PolicyCache,
    /// The issuers' keys.
    pub issuers: Issuers,
    /// The replay store of external token ids.
    replays: Replays,
}

/// Why an external token was not exchanged: the reason (audited, never sent), and the
/// tenant whose policies it came close to (its audit chain), when one is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Why.
    pub reason: &'static str,
    /// The tenant of the policies of the token's issuer and audience.
    pub tenant: Option<Uuid>,
}

/// How an external token matched.
#[derive(Debug)]
pub enum Matched {
    /// One agent's policy.
    One(Box<(External, MatchRow)>),
    /// Policies of several agents; the request must name one.
    Ambiguous,
}

impl Federation {
    /// Federation with `policies`, `issuers`, and `replays`.
    pub fn new(policies: PolicyCache, issuers: Issuers, replays: Replays) -> Self {
        Self {
            policies,
            issuers,
            replays,
        }
    }

    /// Verifies `token` and finds the policy it matches (of `agent` when named): the
    /// issuer must be a policy's, the signature its key's, the claims valid; among the
    /// policies of that issuer whose audience the token carries (all of one tenant), those
    /// whose conditions it meets.
    pub async fn find(
        &self,
        token: &str,
        agent: Option<Uuid>,
    ) -> Result<Result<Matched, Refused>, Failure> {
        let refuse = |reason, tenant| Ok(Err(Refused { reason, tenant }));
        let Some(iss) = external::claimed_issuer(token) else {
            return refuse("malformed", None);
        };
        let candidates = self.policies.of(&iss).await?;
        if candidates.is_empty() {
            return refuse("unknown_issuer", None);
        }
        let keys = self.issuers.keys(&iss);
        let ext = match external::verify(token, &iss, &keys).await {
            Ok(e) => e,
            Err(reason) => {
                // Every policy of the issuer may be another tenant's: no tenant is named
                // before the audience is known to be one of them.
                return refuse(reason, None);
            }
        };
        let for_audience: Vec<&MatchRow> = candidates
            .iter()
            .filter(|m| ext.aud.contains(&m.policy.audience))
            .collect();
        let Some(tenant) = for_audience.first().map(|m| m.policy.tenant_id) else {
            return refuse("audience", None);
        };
        let matching: Vec<&MatchRow> = for_audience
            .into_iter()
            .filter(|m| m.policy.tenant_id == tenant)
            .filter(|m| conditions::matches(m.policy.provider, &m.policy.conditions, &ext.claims))
            .filter(|m| agent.is_none_or(|a| a == m.policy.agent_id))
            .collect();
        let Some(first) = matching.first() else {
            return refuse("no_matching_policy", Some(tenant));
        };
        if matching
            .iter()
            .any(|m| m.policy.agent_id != first.policy.agent_id)
        {
            return Ok(Ok(Matched::Ambiguous));
        }
        Ok(Ok(Matched::One(Box::new((ext, (*first).clone())))))
    }

    /// Records the use of `ext` until it expires; `false` when it was used before (on any
    /// instance). Tokens without `jti` are recognised by their whole text.
    pub async fn first_use(&self, ext: &External, token: &str) -> Result<bool, Failure> {
        let id = match &ext.jti {
            Some(j) => format!("{}\n{j}", ext.iss),
            None => token.to_owned(),
        };
        self.replays.first_use("federation", &id, ext.exp).await
    }
}

/// A policy's name for tokens issued through it (their `client_id` claim, and the subject
/// of a credential revocation covering them).
pub fn policy_client_id(policy: Uuid) -> String {
    format!("trust_policy:{policy}")
}
