//! `POST /oauth2/token`, `/oauth2/introspect` (RFC 7662), `/oauth2/revoke` (RFC 7009), and
//! their `/api/v1/token*` aliases.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use domain::Scope;
use platform::server::request_ip;
use platform::{ApiError, ApiResult};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::{self, NewEvent, SYSTEM_TENANT};
use crate::startup::{AppState, State};
use crate::tokens::client_auth::{self, Params, invalid_request};
use crate::tokens::grant;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    scope: &'a str,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    h.insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    res
}

/// `POST /oauth2/token`.
pub async fn token(req: HttpRequest, body: web::Bytes, state: State) -> ApiResult<HttpResponse> {
    let p = client_auth::parse(req.headers(), &body)?;
    match p.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other} is not supported"),
            ));
        }
        None => return Err(invalid_request("grant_type is required")),
    }
    let g = grant::client_credentials(&state, req.headers(), &p, request_ip(&req)).await?;
    Ok(no_store(HttpResponse::Ok().json(TokenResponse {
        access_token: &g.issued.token,
        token_type: "Bearer",
        expires_in: g.issued.expires_in,
        scope: &g.scope,
    })))
}

/// Who is calling introspection or revocation.
struct Caller {
    client_id: String,
    tenant: Option<Uuid>,
    tenant_admin: bool,
    /// Bearer callers need `tokens:read`; service callers have `internal`.
    may_manage_tenant_tokens: bool,
    internal: bool,
}

async fn caller(state: &AppState, req: &HttpRequest, p: &Params) -> Result<Caller, ApiError> {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    if let Some(token) = bearer {
        let claims = state.verifier.verify(&token).await?;
        let internal = claims.has_scope(Scope::Internal);
        if !internal && !claims.has_scope(Scope::TokensRead) {
            return Err(ApiError::forbidden(
                "insufficient_scope",
                "requires the scope tokens:read",
            ));
        }
        return Ok(Caller {
            client_id: claims.client_id.clone(),
            tenant: claims.tenant_id,
            tenant_admin: false,
            may_manage_tenant_tokens: true,
            internal,
        });
    }
    let row = grant::authenticate(state, headers, p, request_ip(req)).await?;
    Ok(Caller {
        client_id: row.client_id.clone(),
        tenant: row.tenant_id,
        tenant_admin: row.kind == "tenant_admin",
        may_manage_tenant_tokens: row.kind == "tenant_admin",
        internal: row.kind == "service",
    })
}

/// `POST /oauth2/introspect`: `{"active": false}` for anything invalid, expired, revoked or
/// belonging to another tenant.
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: State,
) -> ApiResult<HttpResponse> {
    let p = client_auth::parse(req.headers(), &body)?;
    let who = caller(&state, &req, &p).await?;
    let token = p
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_request("token is required"))?;
    let inactive = || no_store(HttpResponse::Ok().json(json!({"active": false})));
    let Ok(claims) = state.verifier.decode(token).await else {
        return Ok(inactive());
    };
    if !who.internal && (who.tenant.is_none() || claims.tenant_id != who.tenant) {
        return Ok(inactive());
    }
    if state.verifier.is_revoked(&claims).await? {
        return Ok(inactive());
    }
    Ok(no_store(HttpResponse::Ok().json(json!({
        "active": true,
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "nbf": claims.nbf,
        "jti": claims.jti,
        "token_type": "Bearer",
        "tenant_id": claims.tenant_id,
    }))))
}

/// `POST /oauth2/revoke`: a client may revoke its own tokens; a tenant-admin client (or a
/// bearer with `tokens:read`) any token of its tenant. Unknown, invalid or foreign tokens
/// answer 200 without effect, as RFC 7009 asks.
pub async fn revoke(req: HttpRequest, body: web::Bytes, state: State) -> ApiResult<HttpResponse> {
    let p = client_auth::parse(req.headers(), &body)?;
    let who = caller(&state, &req, &p).await?;
    let token = p
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid_request("token is required"))?;
    let done = || no_store(HttpResponse::Ok().finish());
    let Ok(claims) = state.verifier.decode(token).await else {
        return Ok(done());
    };
    if !who.internal && (who.tenant.is_none() || claims.tenant_id != who.tenant) {
        return Ok(done());
    }
    let own = claims.client_id == who.client_id;
    if !(own || who.internal || who.tenant_admin || who.may_manage_tenant_tokens) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "this client may only revoke its own tokens",
        ));
    }
    let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp)
        .map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
    let mut client = state.core.db.get().await?;
    let tx = client.transaction().await?;
    let revocation = state
        .revocations
        .revoke_token(&tx, &claims.jti, claims.tenant_id, expires_at)
        .await?;
    audit::append(
        &tx,
        vec![
            NewEvent::new(
                claims.tenant_id.unwrap_or(SYSTEM_TENANT),
                format!("client:{}", who.client_id),
                "token.revoked",
                Some(format!("token:{}", claims.jti)),
            )
            .details(json!({"jti": claims.jti, "client_id": claims.client_id, "sub": claims.sub})),
        ],
    )
    .await?;
    tx.commit().await?;
    state.revocations.publish(&[revocation]).await;
    Ok(done())
}
