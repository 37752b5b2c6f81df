//! The extractors that put authorization in handler signatures: [`Authenticated`],
//! [`RequireScope<S>`] and [`TenantId`].
//!
//! Authentication is the token alone (signature, claims, revocation), verified once per
//! request however many extractors a handler has. The tenant budget (`crate::budget`) is
//! spent once per request, after authorization: when the handler has a [`RequireScope`],
//! only once every scope it requires was found (so a token without the scope costs its
//! tenant nothing); otherwise as soon as the token is verified.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use domain::Scope;
use uuid::Uuid;

use super::claims::Claims;
use super::context::AuthContext;
use super::error::AuthError;
use super::scopes::ScopeMarker;
use crate::errors::ApiError;

/// A request's verified token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Arc<Claims>);

/// What the extractors of one request share, kept in its extensions. Extractors of one
/// handler are created together, then polled side by side.
#[derive(Default)]
struct Shared {
    /// The verified token.
    token: tokio::sync::OnceCell<Authenticated>,
    /// How many [`RequireScope`] extractors the handler has (counted when they are created,
    /// before any is polled).
    scope_checks: Cell<u32>,
    /// How many of them found their scope.
    scopes_found: Cell<u32>,
    /// Whether the budget was spent (or is being spent by another extractor).
    spent: Cell<bool>,
}

impl Shared {
    fn of(req: &HttpRequest) -> Rc<Self> {
        let existing = req.extensions().get::<Rc<Self>>().cloned();
        existing.unwrap_or_else(|| {
            let shared = Rc::new(Self::default());
            req.extensions_mut().insert(shared.clone());
            shared
        })
    }

    async fn authenticate(&self, req: &HttpRequest) -> Result<Authenticated, ApiError> {
        self.token
            .get_or_try_init(|| verify_request(req))
            .await
            .cloned()
    }

    /// Spends the budget of the token's tenant, at most once per request.
    async fn spend(&self, req: &HttpRequest, claims: &Claims) -> Result<(), ApiError> {
        let Some(tenant) = claims.tenant_id else {
            return Ok(());
        };
        if self.spent.replace(true) {
            return Ok(());
        }
        context(req)?.budget().spend(tenant).await?;
        Ok(())
    }

    /// Authenticates, then spends the budget unless a scope check governs this request.
    async fn authenticate_unscoped(&self, req: &HttpRequest) -> Result<Authenticated, ApiError> {
        let auth = self.authenticate(req).await?;
        if self.scope_checks.get() == 0 {
            self.spend(req, &auth.0).await?;
        }
        Ok(auth)
    }
}

fn context(req: &HttpRequest) -> Result<&AuthContext, ApiError> {
    req.app_data::<web::Data<AuthContext>>()
        .map(|d| d.get_ref())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AuthContext is not registered")))
}

/// The `Authorization` scheme of a request's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Bearer,
    Dpop,
}

fn authorization(req: &HttpRequest) -> Option<(Scheme, &str)> {
    let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((scheme, token.trim()))
}

async fn verify_request(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let ctx = context(req)?;
    let (scheme, token) = authorization(req).ok_or(AuthError::Missing)?;
    let claims = ctx.verifier.verify(token).await?;
    match (scheme, &claims.cnf) {
        (Scheme::Bearer, None) => {}
        (Scheme::Bearer, Some(_)) => {
            return Err(AuthError::Scheme(
                "the token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof",
            )
            .into());
        }
        (Scheme::Dpop, None) => {
            return Err(AuthError::Scheme("the token is not DPoP-bound: send it as Bearer").into());
        }
        (Scheme::Dpop, Some(cnf)) => check_dpop(req, ctx, token, &cnf.jkt).await?,
    }
    Ok(Authenticated(Arc::new(claims)))
}

/// The request's DPoP proof: for this method and URL (as received, or under `PUBLIC_URL`),
/// this token (`ath`), the token's key, and never seen before.
async fn check_dpop(
    req: &HttpRequest,
    ctx: &AuthContext,
    token: &str,
    jkt: &str,
) -> Result<(), AuthError> {
    let proof = req
        .headers()
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .ok_or(AuthError::Dpop(
            "a DPoP-bound token needs a DPoP proof header",
        ))?;
    let received = {
        let ci = req.connection_info();
        format!("{}://{}{}", ci.scheme(), ci.host(), req.path())
    };
    let public = format!("{}{}", ctx.verifier.issuer(), req.path());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let p = super::dpop::verify(
        proof,
        super::dpop::Expected {
            method: req.method().as_str(),
            urls: &[&received, &public],
            access_token: Some(token),
            now,
            nonces: ctx.verifier.dpop_nonces(),
        },
    )
    .map_err(|e| match ctx.verifier.dpop_nonces() {
        Some(n) if e == super::dpop::USE_DPOP_NONCE => AuthError::UseDpopNonce(n.current(now)),
        _ => AuthError::Dpop(e),
    })?;
    if p.jkt != jkt {
        return Err(AuthError::Dpop(
            "the DPoP proof is signed by another key than the token's",
        ));
    }
    if !ctx.verifier.first_use_of_proof(&p.jti).await? {
        return Err(AuthError::Dpop("the DPoP proof was used before"));
    }
    Ok(())
}

impl Authenticated {
    /// Verifies the request's bearer token (signature, claims, revocation) once per request,
    /// sharing the result with the request's other extractors. Spends no budget.
    pub async fn from_req(req: &HttpRequest) -> Result<Self, ApiError> {
        Shared::of(req).authenticate(req).await
    }
}

/// The future of an extractor.
type Extraction<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// An extractor's future: `run` with the request's shared state and the request (created
/// now, run when polled).
fn extraction<T, Fut>(
    req: &HttpRequest,
    shared: Rc<Shared>,
    run: impl FnOnce(Rc<Shared>, HttpRequest) -> Fut,
) -> Extraction<T>
where
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    Box::pin(run(shared, req.clone()))
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extraction(req, Shared::of(req), |shared, req| async move {
            shared.authenticate_unscoped(&req).await
        })
    }
}

/// A verified token carrying scope `S`; 403 `insufficient_scope` otherwise. The tenant
/// budget is spent only once the scope was found.
#[derive(Debug)]
pub struct RequireScope<S: ScopeMarker>(pub Arc<Claims>, PhantomData<S>);

impl<S: ScopeMarker> RequireScope<S> {
    /// The claims.
    pub fn claims(&self) -> &Claims {
        &self.0
    }
}

fn insufficient_scope(scope: Scope) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        format!("this operation requires the scope {scope}"),
    )
    .with_header(
        WWW_AUTHENTICATE,
        &format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
    )
}

impl<S: ScopeMarker> FromRequest for RequireScope<S> {
    type Error = ApiError;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let shared = Shared::of(req);
        shared.scope_checks.set(shared.scope_checks.get() + 1);
        extraction(req, shared, |shared, req| async move {
            let Authenticated(claims) = shared.authenticate(&req).await?;
            if !claims.has_scope(S::SCOPE) {
                return Err(insufficient_scope(S::SCOPE));
            }
            let found = shared.scopes_found.get() + 1;
            shared.scopes_found.set(found);
            if found == shared.scope_checks.get() {
                shared.spend(&req, &claims).await?;
            }
            Ok(Self(claims, PhantomData))
        })
    }
}

/// The tenant of the request's token (never taken from a path or body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantId(pub Uuid);

impl FromRequest for TenantId {
    type Error = ApiError;
    type Future = Extraction<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extraction(req, Shared::of(req), |shared, req| async move {
            let Authenticated(claims) = shared.authenticate_unscoped(&req).await?;
            claims.tenant_id.map(TenantId).ok_or_else(|| {
                ApiError::forbidden("tenant_required", "this operation needs a tenant's token")
            })
        })
    }
}
