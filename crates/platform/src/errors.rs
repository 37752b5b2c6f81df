//! Errors as HTTP responses.
//!
//! Policy, for every service:
//! - Every error a client sees is `application/problem+json` (RFC 9457) with a stable,
//!   machine-readable `code`; the OAuth endpoints use RFC 6749 bodies instead
//!   ([`ApiError::oauth`]).
//! - A 4xx says what to fix; field problems are listed in `errors[]` by field name.
//! - An unexpected failure is an opaque 500 carrying only the request id. Its cause is
//!   logged once, with its chain, when the response is built, and never sent.
//! - An unknown failure is never reported as a 4xx.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Result alias for handlers and the code they call.
pub type ApiResult<T> = Result<T, ApiError>;

tokio::task_local! {
    /// The id of the request being served, set by the request-id middleware.
    pub static REQUEST_ID: String;
}

/// The current request's id, when called while serving a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name or path (`name`, `tags[2]`, `query.limit`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field problem.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Problem,
    OAuth,
}

/// An error that knows how to answer an HTTP request (boxed: errors are the cold path, and a
/// small `Result` keeps the hot path cheap).
pub struct ApiError(Box<Inner>);

struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Option<String>,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    extra: Option<serde_json::Map<String, serde_json::Value>>,
    source: Option<anyhow::Error>,
    shape: Shape,
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.0.status.as_u16())
            .field("code", &self.0.code)
            .field("detail", &self.0.detail)
            .field("errors", &self.0.errors)
            .field("source", &self.0.source)
            .finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.status.as_u16(), self.0.code)?;
        if let Some(d) = &self.0.detail {
            write!(f, ": {d}")?;
        }
        if let Some(s) = &self.0.source {
            write!(f, ": {s:#}")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// A problem with a status, a stable code and a human-readable detail.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(Inner {
            status,
            code: code.into(),
            detail: Some(detail.into()),
            errors: Vec::new(),
            headers: Vec::new(),
            extra: None,
            source: None,
            shape: Shape::Problem,
        }))
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422 `validation_failed` listing field problems.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        );
        e.0.errors = errors;
        e
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 400 `invalid_query` naming one query parameter.
    pub fn invalid_query(field: impl Into<String>, message: impl Into<String>) -> Self {
        let e = FieldError::new(field, message);
        Self::bad_request(
            "invalid_query",
            format!("query parameter {}: {}", e.field, e.message),
        )
        .with_extra("errors", serde_json::json!([e]))
    }

    /// 404 `not_found`; used for other tenants' objects too.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 409 with a code.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 401 for a missing or bad bearer token (RFC 6750 challenge).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let challenge = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            detail.replace('"', "'")
        );
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, &challenge)
    }

    /// 403 with a code.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many_requests(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
            .with_header(header::RETRY_AFTER, &retry_after_secs.max(1).to_string())
    }

    /// 503 with `Retry-After`: a dependency is saturated or down.
    pub fn unavailable(
        code: &'static str,
        detail: impl Into<String>,
        retry_after_secs: u64,
    ) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
            .with_header(header::RETRY_AFTER, &retry_after_secs.max(1).to_string())
    }

    /// An opaque 500; `source` is logged, never sent.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "");
        e.0.detail = None;
        e.0.source = Some(source.into());
        e
    }

    /// An RFC 6749 §5.2 error body (`{"error", "error_description"}`), for OAuth endpoints.
    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        let mut e = Self::new(status, error, description);
        e.0.shape = Shape::OAuth;
        e.0.headers
            .push((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        e
    }

    /// Adds a response header (invalid values are dropped).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.0.headers.push((name, v));
        }
        self
    }

    /// Adds a top-level member to the problem body (RFC 9457 extension members).
    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Self {
        self.0
            .extra
            .get_or_insert_with(serde_json::Map::new)
            .insert(key.to_owned(), value);
        self
    }

    /// Keeps a cause for the log without changing what the client sees.
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.0.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub(crate) fn problem_body(&self, request_id: Option<String>) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert(
            "type".into(),
            format!("urn:agentidp:problem:{}", self.0.code).into(),
        );
        body.insert(
            "title".into(),
            self.0.status.canonical_reason().unwrap_or("Error").into(),
        );
        body.insert("status".into(), self.0.status.as_u16().into());
        body.insert("code".into(), self.0.code.as_ref().into());
        if let Some(d) = &self.0.detail {
            body.insert("detail".into(), d.clone().into());
        }
        if !self.0.errors.is_empty() {
            body.insert(
                "errors".into(),
                serde_json::to_value(&self.0.errors).unwrap_or_default(),
            );
        }
        if let Some(id) = request_id {
            body.insert("request_id".into(), id.into());
        }
        if let Some(extra) = &self.0.extra {
            for (k, v) in extra {
                body.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        serde_json::Value::Object(body)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if self.0.status.is_server_error() {
            match &self.0.source {
                Some(src) => tracing::error!(
                    request_id = request_id.as_deref().unwrap_or(""),
                    code = %self.0.code,
                    error = format!("{src:#}"),
                    "request failed"
                ),
                None => tracing::warn!(
                    request_id = request_id.as_deref().unwrap_or(""),
                    code = %self.0.code,
                    detail = self.0.detail.as_deref().unwrap_or(""),
                    "request refused"
                ),
            }
        }
        let mut res = HttpResponse::build(self.0.status);
        for (k, v) in &self.0.headers {
            res.append_header((k.clone(), v.clone()));
        }
        match self.0.shape {
            Shape::OAuth => {
                let mut body = serde_json::json!({ "error": self.0.code.as_ref() });
                if let Some(d) = self.0.detail.as_deref().filter(|d| !d.is_empty()) {
                    body["error_description"] = d.into();
                }
                res.insert_header((header::PRAGMA, "no-cache"));
                res.content_type("application/json").body(body.to_string())
            }
            Shape::Problem => res
                .content_type("application/problem+json")
                .body(self.problem_body(request_id).to_string()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(res: HttpResponse) -> serde_json::Value {
        let bytes = res.into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn internal_errors_are_opaque() {
        let e = ApiError::internal(anyhow::anyhow!("password=hunter2 leaked in a cause"));
        let res = e.error_response();
        assert_eq!(res.status(), 500);
        let body = body_of(res);
        assert_eq!(body["code"], "internal_error");
        assert!(!body.to_string().contains("hunter2"));
        assert!(body.get("detail").is_none());
    }

    #[test]
    fn validation_lists_fields() {
        let e = ApiError::validation(vec![FieldError::new("name", "must not be empty")]);
        let res = e.error_response();
        assert_eq!(res.status(), 422);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body = body_of(res);
        assert_eq!(body["errors"][0]["field"], "name");
        assert_eq!(body["type"], "urn:agentidp:problem:validation_failed");
    }

    #[test]
    fn oauth_shape() {
        let e = ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_scope", "nope");
        let res = e.error_response();
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let body = body_of(res);
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_scope", "error_description": "nope"})
        );
    }
}
