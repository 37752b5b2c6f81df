//! Helpers every handler may use: the audit actor of a caller, ids from the path, keyset
//! cursors, and `Cache-Control: no-store`.

use actix_web::HttpResponse;
use actix_web::http::header;
use platform::ApiError;
use platform::auth::Claims;
use uuid::Uuid;

/// `client:<client_id>`: the actor recorded in audit events.
pub fn actor(claims: &Claims) -> String {
    format!("client:{}", claims.client_id)
}

/// An id from the path; a malformed one cannot exist, so it is 404 like any unknown id.
pub fn path_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(what))
}

/// An opaque keyset cursor over `(created_at, id)`: base64url of `<unix micros>.<id>`.
pub fn encode_cursor(at: time::OffsetDateTime, id: Uuid) -> String {
    crate::crypto::b64url(format!("{}.{id}", at.unix_timestamp_nanos() / 1000))
}

/// The position an [`encode_cursor`] cursor names, if it is one.
pub fn decode_cursor(s: &str) -> Option<(time::OffsetDateTime, Uuid)> {
    let raw = String::from_utf8(crate::crypto::b64url_decode(s)?).ok()?;
    let (micros, id) = raw.split_once('.')?;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(micros.parse::<i128>().ok()? * 1000)
        .ok()?;
    Some((at, Uuid::parse_str(id).ok()?))
}

/// `Cache-Control: no-store`: the answer carries a secret.
pub fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn cursors_round_trip() {
        let at = crate::audit::event::micros(OffsetDateTime::now_utc());
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        assert_eq!(decode_cursor("nonsense"), None);
    }
}
