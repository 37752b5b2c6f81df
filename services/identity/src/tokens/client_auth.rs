//! Parsing token requests and client authentication (RFC 6749 §2.3.1, §4.4).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use base64::Engine as _;
use platform::ApiError;

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
}

/// An RFC 6749 `invalid_request`.
pub fn invalid_request(description: impl Into<String>) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// An RFC 6749 `invalid_client` (401 with a Basic challenge).
pub fn invalid_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        "Basic realm=\"agentidp\", charset=\"UTF-8\"",
    )
}

/// Parses an `application/x-www-form-urlencoded` body; repeated parameters are refused and
/// unknown ones ignored, as RFC 6749 §3.1 requires.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Params, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut p = Params::default();
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
            _ => continue,
        };
        if slot.is_some() {
            return Err(invalid_request(format!("parameter {k} is repeated")));
        }
        *slot = Some(v.into_owned());
    }
    Ok(p)
}

/// Credentials a client presented.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// Client id.
    pub client_id: String,
    /// Secret.
    pub secret: String,
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The client's credentials from `Authorization: Basic` (client_secret_basic) or the body
/// (client_secret_post). Both at once is `invalid_request`; neither is `invalid_client`.
pub fn credentials(headers: &HeaderMap, p: &Params) -> Result<ClientCredentials, ApiError> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => {
            let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(invalid_client());
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(invalid_client)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            Some(ClientCredentials {
                client_id: form_decode(id),
                secret: form_decode(secret),
            })
        }
        None => None,
    };
    match (basic, &p.client_id, &p.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(invalid_request(
            "use one client authentication method, not both",
        )),
        (Some(b), None, None) => Ok(b),
        (None, Some(id), Some(secret)) => Ok(ClientCredentials {
            client_id: id.clone(),
            secret: secret.clone(),
        }),
        _ => Err(invalid_client()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        h
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = form_headers();
        let raw = base64::engine::general_purpose::STANDARD.encode("my%20id:s%3Acret+x");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        let p = parse(&h, b"grant_type=client_credentials").unwrap();
        let c = credentials(&h, &p).unwrap();
        assert_eq!(c.client_id, "my id");
        assert_eq!(c.secret, "s:cret x");
    }

    #[test]
    fn two_methods_or_repeats_are_invalid_requests() {
        let mut h = form_headers();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YTpi"),
        );
        let p = parse(&h, b"client_id=a&client_secret=b").unwrap();
        assert_eq!(credentials(&h, &p).unwrap_err().code(), "invalid_request");
        assert_eq!(
            parse(&form_headers(), b"scope=a&scope=b")
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        let none = parse(&form_headers(), b"grant_type=client_credentials").unwrap();
        assert_eq!(
            credentials(&form_headers(), &none).unwrap_err().code(),
            "invalid_client"
        );
        assert_eq!(
            parse(&HeaderMap::new(), b"").unwrap_err().code(),
            "invalid_request"
        );
    }
}
