//! Reading token, introspection and revocation requests (RFC 6749 §2.3.1, §3.2, §4.4): the
//! form body and the client's credentials, from plain strings and bytes. Each request is
//! parsed once, by the route, into [`TokenRequest`] or [`ManagementRequest`].

use std::net::IpAddr;

use base64::Engine as _;

pub use super::exchange_request::{Exchange, SubjectType, TOKEN_EXCHANGE, token_types};
pub use super::form::{Params, RequestError};

/// What a route hands over of an HTTP request: two headers (absent when missing or not
/// text), the body and the client's address.
#[derive(Debug, Clone, Copy)]
pub struct RawRequest<'a> {
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// The URL as received (scheme, host and path, no query): an audience a client assertion
    /// may name, and the `htu` a DPoP proof must name.
    pub url: &'a str,
    /// `DPoP` (RFC 9449), the proof of possession of a key.
    pub dpop: Option<&'a str>,
}

/// Most characters of a client id. Issued ids are `aidp_` and 22 base64url characters.
pub const MAX_CLIENT_ID: usize = 64;

/// Whether `id` could be a client id identity issued: 1 to [`MAX_CLIENT_ID`] characters of
/// the base64url alphabet (`A-Z a-z 0-9 - _`). Anything else is refused before a cache,
/// Redis key or log line sees it.
pub fn is_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `client_assertion_type` of private_key_jwt (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How a client proves it is itself.
#[derive(Debug, Clone)]
pub enum Proof {
    /// client_secret_basic or client_secret_post.
    Secret(String),
    /// private_key_jwt: a JWT signed with one of the client's registered keys.
    Assertion(String),
}

/// Credentials a client presented.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// Client id.
    pub client_id: String,
    /// The proof.
    pub proof: Proof,
}

/// The `iss` and `sub` of an unverified JWT, when it has both and they are equal.
fn assertion_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&raw).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    let sub = claims.get("sub")?.as_str()?;
    (iss == sub).then(|| sub.to_owned())
}

fn form_decode(s: &str) -> String {
    form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl ClientCredentials {
    /// The client's credentials from `Authorization: Basic` (client_secret_basic) or the
    /// body (client_secret_post, taken out of `p`). Both at once is `invalid_request`;
    /// neither, or a client id identity cannot have issued ([`is_client_id`]), is
    /// `invalid_client`.
    pub fn parse(authorization: Option<&str>, p: &mut Params) -> Result<Self, RequestError> {
        match (p.client_assertion_type.take(), p.client_assertion.take()) {
            (None, None) => {}
            (Some(t), Some(assertion)) if t == JWT_BEARER => {
                if authorization.is_some() || p.client_secret.is_some() {
                    return Err(RequestError::Invalid(
                        "use one client authentication method, not both".into(),
                    ));
                }
                let client_id = assertion_subject(&assertion).ok_or(RequestError::InvalidClient)?;
                if p.client_id.take().is_some_and(|c| c != client_id) || !is_client_id(&client_id) {
                    return Err(RequestError::InvalidClient);
                }
                return Ok(Self {
                    client_id,
                    proof: Proof::Assertion(assertion),
                });
            }
            (Some(_), Some(_)) => {
                return Err(RequestError::Invalid(
                    format!("client_assertion_type must be {JWT_BEARER}").into(),
                ));
            }
            _ => {
                return Err(RequestError::Invalid(
                    "client_assertion and client_assertion_type go together".into(),
                ));
            }
        }
        let basic = match authorization {
            Some(v) => {
                let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(RequestError::InvalidClient);
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(RequestError::InvalidClient)?;
                let (id, secret) = decoded.split_once(':').ok_or(RequestError::InvalidClient)?;
                Some(Self {
                    client_id: form_decode(id),
                    proof: Proof::Secret(form_decode(secret)),
                })
            }
            None => None,
        };
        let creds = match (basic, p.client_id.take(), p.client_secret.take()) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(RequestError::Invalid(
                    "use one client authentication method, not both".into(),
                ));
            }
            (Some(b), None, None) => b,
            (None, Some(client_id), Some(secret)) => Self {
                client_id,
                proof: Proof::Secret(secret),
            },
            _ => return Err(RequestError::InvalidClient),
        };
        if !is_client_id(&creds.client_id) {
            return Err(RequestError::InvalidClient);
        }
        Ok(creds)
    }
}

/// The grant a token request asks for; each grant type is one variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// Token exchange (RFC 8693): federation or delegation.
    TokenExchange(Exchange),
}

impl Grant {
    /// The grant named by `grant_type`, with its own parameters taken out of `p`.
    pub fn parse(p: &mut Params) -> Result<Self, RequestError> {
        match p.grant_type.as_deref() {
            Some("client_credentials") => Ok(Self::ClientCredentials),
            Some(TOKEN_EXCHANGE) => Exchange::parse(p).map(Self::TokenExchange),
            Some(other) => Err(RequestError::UnsupportedGrantType(other.to_owned())),
            None => Err(RequestError::Invalid("grant_type is required".into())),
        }
    }

    /// Whether the grant authenticates a client (federation presents no client).
    fn needs_client(&self) -> bool {
        !matches!(self, Self::TokenExchange(e) if e.subject == SubjectType::External)
    }
}

/// The audience a token request names, as sent: checked by the grant, after the client's
/// scopes (so a client that may not have the token learns nothing about its audience).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Neither `audience` nor `resource`: the issuer itself.
    Issuer,
    /// `audience` or `resource`.
    Named(String),
    /// Both `audience` and `resource`.
    Both,
}

impl Audience {
    fn from_params(audience: Option<String>, resource: Option<String>) -> Self {
        match (audience, resource) {
            (Some(_), Some(_)) => Self::Both,
            (Some(a), None) | (None, Some(a)) => Self::Named(a),
            (None, None) => Self::Issuer,
        }
    }
}

/// A token request, read once.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Who asks (no one for a federated token exchange).
    pub credentials: Option<ClientCredentials>,
    /// For what.
    pub grant: Grant,
    /// `scope`, as sent.
    pub scope: Option<String>,
    /// `audience` or `resource`.
    pub audience: Audience,
    /// The client's address (per-IP limits).
    pub ip: Option<IpAddr>,
    /// The URL as received (see [`RawRequest::url`]).
    pub url: String,
    /// The `DPoP` proof, when one was sent.
    pub dpop: Option<String>,
}

impl TokenRequest {
    /// Reads a token request. Problems are reported in this order: the body, the grant
    /// type, client authentication.
    pub fn parse(raw: RawRequest<'_>) -> Result<Self, RequestError> {
        let mut p = Params::parse(raw.content_type, raw.body)?;
        let grant = Grant::parse(&mut p)?;
        let credentials = if grant.needs_client() {
            Some(ClientCredentials::parse(raw.authorization, &mut p)?)
        } else if raw.authorization.is_some()
            || p.client_id.is_some()
            || p.client_secret.is_some()
            || p.client_assertion.is_some()
        {
            return Err(RequestError::Invalid(
                "a federated token exchange authenticates with its subject_token alone; send no client authentication".into(),
            ));
        } else {
            None
        };
        Ok(Self {
            credentials,
            grant,
            scope: p.scope,
            audience: Audience::from_params(p.audience, p.resource),
            ip: raw.ip,
            url: raw.url.to_owned(),
            dpop: raw.dpop.map(str::to_owned),
        })
    }
}

/// How the caller of introspection or revocation authenticates.
#[derive(Debug, Clone)]
pub enum Caller {
    /// `Authorization: Bearer`: an access token with `tokens:read` (or `internal`).
    Bearer(String),
    /// A client's own credentials.
    Client(ClientCredentials),
}

/// An introspection or revocation request, read once.
#[derive(Debug, Clone)]
pub struct ManagementRequest {
    /// Who asks.
    pub caller: Caller,
    /// `token`, as sent.
    pub token: Option<String>,
    /// The caller's address (per-IP limits of client authentication).
    pub ip: Option<IpAddr>,
    /// The URL as received (see [`RawRequest::url`]).
    pub url: String,
}

impl ManagementRequest {
    /// Reads an introspection or revocation request: the body, then the caller's
    /// authentication (a bearer token, or client credentials).
    pub fn parse(raw: RawRequest<'_>) -> Result<Self, RequestError> {
        let mut p = Params::parse(raw.content_type, raw.body)?;
        let bearer = raw
            .authorization
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned());
        let caller = match bearer {
            Some(token) => Caller::Bearer(token),
            None => Caller::Client(ClientCredentials::parse(raw.authorization, &mut p)?),
        };
        Ok(Self {
            caller,
            token: p.token,
            ip: raw.ip,
            url: raw.url.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn token_request(
        content_type: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> Result<TokenRequest, RequestError> {
        TokenRequest::parse(RawRequest {
            content_type,
            authorization,
            body,
            ip: None,
            url: "http://localhost:8080/oauth2/token",
            dpop: None,
        })
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let raw = base64::engine::general_purpose::STANDARD.encode("my%2Did:s%3Acret+x");
        let r = token_request(
            FORM,
            Some(&format!("Basic {raw}")),
            b"grant_type=client_credentials",
        )
        .unwrap();
        let creds = r.credentials.as_ref().unwrap();
        assert_eq!(creds.client_id, "my-id");
        assert!(matches!(&creds.proof, Proof::Secret(s) if s == "s:cret x"));
        assert_eq!(r.grant, Grant::ClientCredentials);
        assert_eq!(r.audience, Audience::Issuer);
    }

    #[test]
    fn two_methods_or_repeats_are_invalid_requests() {
        let mut p = Params::parse(FORM, b"client_id=a&client_secret=b").unwrap();
        assert!(matches!(
            ClientCredentials::parse(Some("Basic YTpi"), &mut p),
            Err(RequestError::Invalid(_))
        ));
        assert!(matches!(
            Params::parse(FORM, b"scope=a&scope=b"),
            Err(RequestError::Invalid(_))
        ));
        let mut none = Params::parse(FORM, b"grant_type=client_credentials").unwrap();
        assert_eq!(
            ClientCredentials::parse(None, &mut none).unwrap_err(),
            RequestError::InvalidClient
        );
        assert!(matches!(
            Params::parse(None, b""),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn client_ids_outside_the_issued_alphabet_or_length_are_invalid_clients() {
        for id in ["aidp_AbC-0_9", &"a".repeat(MAX_CLIENT_ID)] {
            let mut p =
                Params::parse(FORM, format!("client_id={id}&client_secret=s").as_bytes()).unwrap();
            assert_eq!(
                ClientCredentials::parse(None, &mut p).unwrap().client_id,
                id
            );
        }
        let long = "a".repeat(MAX_CLIENT_ID + 1);
        for id in ["", "a%20b", "a.b", "%C3%BC", "a%00", long.as_str()] {
            let mut p =
                Params::parse(FORM, format!("client_id={id}&client_secret=s").as_bytes()).unwrap();
            assert_eq!(
                ClientCredentials::parse(None, &mut p).unwrap_err(),
                RequestError::InvalidClient,
                "{id}"
            );
        }
        let raw = base64::engine::general_purpose::STANDARD.encode(format!("{long}:s"));
        let mut p = Params::default();
        assert_eq!(
            ClientCredentials::parse(Some(&format!("Basic {raw}")), &mut p).unwrap_err(),
            RequestError::InvalidClient
        );
    }

    #[test]
    fn the_body_is_checked_before_the_grant_and_the_grant_before_the_client() {
        assert!(matches!(
            token_request(None, None, b"grant_type=password"),
            Err(RequestError::Invalid(_))
        ));
        assert_eq!(
            token_request(FORM, None, b"grant_type=password").unwrap_err(),
            RequestError::UnsupportedGrantType("password".into())
        );
        assert_eq!(
            token_request(FORM, None, b"grant_type=client_credentials").unwrap_err(),
            RequestError::InvalidClient
        );
    }
}

#[cfg(test)]
mod exchange_tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn parse(body: &str, authorization: Option<&str>) -> Result<TokenRequest, RequestError> {
        TokenRequest::parse(RawRequest {
            content_type: FORM,
            authorization,
            body: body.as_bytes(),
            ip: None,
            url: "http://localhost:8080/oauth2/token",
            dpop: None,
        })
    }

    #[test]
    fn token_exchange_reads_its_subject_and_needs_a_client_only_for_delegation() {
        let gt = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange";
        let fed = format!(
            "{gt}&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
        );
        let r = parse(&fed, None).unwrap();
        assert!(r.credentials.is_none());
        assert!(
            matches!(r.grant, Grant::TokenExchange(ref e) if e.subject == SubjectType::External)
        );
        assert!(matches!(
            parse(&fed, Some("Basic YTpi")),
            Err(RequestError::Invalid(_))
        ));
        let del = format!(
            "{gt}&subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
        );
        assert_eq!(parse(&del, None).unwrap_err(), RequestError::InvalidClient);
        assert!(
            parse(&del, Some("Basic YTpi"))
                .unwrap()
                .credentials
                .is_some()
        );
        for bad in [
            format!("{gt}&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"),
            format!("{gt}&subject_token=t&subject_token_type=saml"),
            format!("{fed}&actor_token=x"),
            format!("{fed}&agent_id=nope"),
            format!("{del}&agent_id=0191e5a8-7e4c-7a3b-9f00-1234567890ab"),
            format!(
                "{fed}&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token"
            ),
        ] {
            assert!(
                matches!(
                    parse(&bad, Some("Basic YTpi")),
                    Err(RequestError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }
}
