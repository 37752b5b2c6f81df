//! Request extractors whose errors name the offending field.
//!
//! actix's own `Json`/`Form`/`Query` report serde's message without the path; these wrap the
//! same deserializers with `serde_path_to_error` and answer with a problem body:
//! - body that is not JSON at all → 400 `malformed_body`;
//! - JSON of the wrong shape (missing, unknown or mistyped field) → 422 `validation_failed`
//!   with `errors[].field`;
//! - a bad query string → 400 `invalid_query` with `errors[].field`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::errors::{ApiError, FieldError};

/// Largest body the extractors read unless the app sets a [`BodyLimit`].
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// App data that overrides [`DEFAULT_BODY_LIMIT`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// An `application/x-www-form-urlencoded` body.
#[derive(Debug)]
pub struct Form<T>(pub T);

/// A JSON body that may be absent: an empty body gives `T::default()`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

/// A query string.
#[derive(Debug)]
pub struct Query<T>(pub T);

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// Reads the whole body, refusing more than the configured limit.
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    let limit = req
        .app_data::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("malformed_body", format!("could not read the body: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body exceeds {limit} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn content_type_is(req: &HttpRequest, wanted: &str, suffix: Option<&str>) -> bool {
    let Some(ct) = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == wanted || suffix.is_some_and(|s| essence.ends_with(s))
}

fn unsupported(expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("Content-Type must be {expected}"),
    )
}

/// Turns serde's message and path into a field problem.
fn field_error(path: &serde_path_to_error::Path, message: &str, prefix: &str) -> FieldError {
    let mut field = path.to_string();
    if field == "." {
        field.clear();
    }
    // serde reports missing/unknown fields at the parent; name the field itself.
    for marker in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = message.strip_prefix(marker)
            && let Some(name) = rest.split('`').next()
        {
            let already = field == name || field.ends_with(&format!(".{name}"));
            if !already {
                field = if field.is_empty() {
                    name.to_owned()
                } else {
                    format!("{field}.{name}")
                };
            }
        }
    }
    if field.is_empty() {
        field = "body".to_owned();
    }
    let field = if prefix.is_empty() {
        field
    } else {
        format!("{prefix}.{field}")
    };
    // serde_json appends " at line L column C"; the field name says more.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    FieldError::new(field, message)
}

/// Parses JSON bytes into `T`, with field-naming errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let inner = err.inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::validation(vec![field_error(err.path(), &inner.to_string(), "")])
            }
            _ => ApiError::bad_request(
                "malformed_body",
                format!("request body is not valid JSON: {inner}"),
            ),
        }
    })
}

/// Parses urlencoded bytes into `T`, with field-naming errors.
pub fn parse_urlencoded<T: DeserializeOwned>(bytes: &[u8], prefix: &str) -> Result<T, FieldError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(de)
        .map_err(|err| field_error(err.path(), &err.inner().to_string(), prefix))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_is(&req, "application/json", Some("+json")) {
                return Err(unsupported("application/json"));
            }
            let body = read_body(&req, &mut payload).await?;
            parse_json(&body).map(Json)
        })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let body = read_body(&req, &mut payload).await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            if !content_type_is(&req, "application/json", Some("+json")) {
                return Err(unsupported("application/json"));
            }
            parse_json(&body).map(OptionalJson)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = ApiError;
    type Future = LocalFuture<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_is(&req, "application/x-www-form-urlencoded", None) {
                return Err(unsupported("application/x-www-form-urlencoded"));
            }
            let body = read_body(&req, &mut payload).await?;
            parse_urlencoded(&body, "")
                .map(Form)
                .map_err(|e| ApiError::validation(vec![e]))
        })
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            parse_urlencoded(req.query_string().as_bytes(), "")
                .map(Query)
                .map_err(|e| {
                    let detail = format!("query parameter {}: {}", e.field, e.message);
                    let mut err = ApiError::bad_request("invalid_query", detail);
                    err = err.with_extra("errors", serde_json::json!([e]));
                    err
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Body {
        name: String,
        count: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Inner {
        tags: Vec<String>,
    }

    fn err_field(bytes: &str) -> (u16, String) {
        let e = parse_json::<Body>(bytes.as_bytes()).unwrap_err();
        let body = e.problem_body(None);
        (
            e.status().as_u16(),
            body["errors"][0]["field"].as_str().unwrap_or("").to_owned(),
        )
    }

    #[test]
    fn json_errors_name_fields() {
        assert_eq!(err_field(r#"{"count": 1}"#), (422, "name".into()));
        assert_eq!(
            err_field(r#"{"name": 5, "count": 1}"#),
            (422, "name".into())
        );
        assert_eq!(
            err_field(r#"{"name": "a", "count": 1, "inner": {"tags": [1]}}"#),
            (422, "inner.tags[0]".into())
        );
        assert_eq!(
            err_field(r#"{"name": "a", "count": 1, "extra": 2}"#),
            (422, "extra".into())
        );
        assert_eq!(err_field(r#"{"name": "a", "#).0, 400);
    }

    #[test]
    fn urlencoded_errors_name_fields() {
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "fields exist to be deserialized")]
        struct Q {
            limit: u32,
        }
        let e = parse_urlencoded::<Q>(b"limit=abc", "").unwrap_err();
        assert_eq!(e.field, "limit");
        let e = parse_urlencoded::<Q>(b"", "").unwrap_err();
        assert_eq!(e.field, "limit");
    }
}
