//! `POST /oauth2/token`, `/oauth2/introspect` (RFC 7662), `/oauth2/revoke` (RFC 7009), and
//! their `/api/v1/token*` aliases. Each request is read once into a [`TokenRequest`] or
//! [`ManagementRequest`]; the rules are in [`crate::tokens`].

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use platform::ApiResult;
use platform::server::request_ip;
use serde::Serialize;
use serde_json::json;

use crate::tokens::introspection::Introspection;
use crate::tokens::request::{ManagementRequest, RawRequest, TokenRequest};
use crate::tokens::service::TokenService;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
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

/// A request header as text (absent when missing or not visible ASCII).
fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The URL of `req` as received: scheme, host and path.
fn received_url(req: &HttpRequest) -> String {
    let ci = req.connection_info();
    format!("{}://{}{}", ci.scheme(), ci.host(), req.path())
}

/// What the token rules read of the request.
fn raw<'a>(req: &'a HttpRequest, body: &'a [u8], url: &'a str) -> RawRequest<'a> {
    RawRequest {
        content_type: header_str(req, header::CONTENT_TYPE),
        authorization: header_str(req, header::AUTHORIZATION),
        body,
        ip: request_ip(req),
        url,
        dpop: header_str(req, header::HeaderName::from_static("dpop")),
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    tokens: web::Data<TokenService>,
) -> ApiResult<HttpResponse> {
    let request = TokenRequest::parse(raw(&req, &body, &received_url(&req)))?;
    let g = tokens.token(&request).await?;
    Ok(no_store(HttpResponse::Ok().json(TokenResponse {
        access_token: &g.issued.token,
        issued_token_type: g.issued_token_type,
        token_type: g.token_type,
        expires_in: g.issued.expires_in,
        scope: &g.scope,
    })))
}

/// `POST /oauth2/introspect`: `{"active": false}` for anything invalid, expired, revoked or
/// belonging to another tenant.
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    introspection: web::Data<Introspection>,
) -> ApiResult<HttpResponse> {
    let request = ManagementRequest::parse(raw(&req, &body, &received_url(&req)))?;
    let Some(claims) = introspection.introspect(&request).await? else {
        return Ok(no_store(HttpResponse::Ok().json(json!({"active": false}))));
    };
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
        "token_type": if claims.cnf.is_some() { "DPoP" } else { "Bearer" },
        "tenant_id": claims.tenant_id,
        "act": claims.act,
        "fed": claims.fed,
        "cnf": claims.cnf,
    }))))
}

/// `POST /oauth2/revoke`: 200 also for unknown, invalid or foreign tokens.
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    introspection: web::Data<Introspection>,
) -> ApiResult<HttpResponse> {
    let request = ManagementRequest::parse(raw(&req, &body, &received_url(&req)))?;
    introspection.revoke(&request).await?;
    Ok(no_store(HttpResponse::Ok().finish()))
}
