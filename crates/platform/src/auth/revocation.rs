//! Who answers revocation questions when Redis cannot.

use super::claims::Claims;
use crate::future::BoxFuture;
use crate::internal_http::InternalHttp;

/// Answers revocation questions when Redis cannot.
pub trait RevocationFallback: Send + Sync + 'static {
    /// Whether the token described by `claims` is revoked.
    fn is_revoked<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, anyhow::Result<bool>>;
}

/// Identity's `POST /internal/v1/revocations/check`, for the services other than identity:
/// while Redis cannot answer, identity (which falls back on PostgreSQL) does, so a Redis
/// outage neither refuses every caller nor lets revoked tokens through.
#[derive(Debug, Clone)]
pub struct HttpRevocationFallback(pub InternalHttp);

impl RevocationFallback for HttpRevocationFallback {
    fn is_revoked<'a>(&'a self, claims: &'a Claims) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(async move {
            let query = revocation_query(claims);
            let answer: domain::revocation::RevocationAnswer = self
                .0
                .post_json(
                    self.0.identity("/internal/v1/revocations/check"),
                    &query,
                    true,
                )
                .await?;
            Ok(answer.revoked)
        })
    }
}

/// The question identity's revocation check answers for `claims`.
pub fn revocation_query(claims: &Claims) -> domain::revocation::RevocationQuery {
    let s = claims.revocation_subjects();
    domain::revocation::RevocationQuery {
        jti: claims.jti.clone(),
        sub: claims.sub.clone(),
        client_id: claims.client_id.clone(),
        issued_at_ms: claims.issued_at_ms(),
        also_jtis: s.jtis[1..].iter().map(|j| j.to_string()).collect(),
        also_subs: s.subs[1..].iter().map(|j| j.to_string()).collect(),
        also_clients: s.clients[1..].iter().map(|j| j.to_string()).collect(),
    }
}
