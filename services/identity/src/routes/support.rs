//! Helpers every handler may use: the audit actor of a caller, ids and values from the
//! request, and `Cache-Control: no-store`.

use actix_web::HttpResponse;
use actix_web::http::header;
use platform::ApiError;
use platform::auth::Claims;
use uuid::Uuid;

use crate::agents::Grantor;

/// `client:<client_id>`: the actor recorded in audit events.
pub fn actor(claims: &Claims) -> String {
    format!("client:{}", claims.client_id)
}

/// The caller of a change that binds scopes to an agent.
pub fn grantor(claims: &Claims) -> Grantor {
    Grantor::new(actor(claims), claims)
}

/// An id from the path; a malformed one cannot exist, so it is 404 like any unknown id.
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// A query parameter that names one value of `T` (400 `invalid_query` naming the
/// parameter otherwise).
pub fn query_value<T: std::str::FromStr<Err = String>>(
    field: &str,
    v: Option<&str>,
) -> Result<Option<T>, ApiError> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| ApiError::invalid_query(field, e))
    })
    .transpose()
}

/// `Cache-Control: no-store`: the answer carries a secret.
pub fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
