//! HTTP caching of listing responses: a strong `ETag` (a digest of the body),
//! `Cache-Control: public, max-age=<MARKETPLACE_MAX_AGE_SECS>`, and `304 Not Modified` when
//! `If-None-Match` names the current tag.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

/// How long clients and shared caches may keep listing responses
/// (`MARKETPLACE_MAX_AGE_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    /// `Cache-Control: public, max-age=<this>`.
    pub max_age_secs: u32,
}

/// Whether `If-None-Match` (any of its headers) matches `etag`, by the weak comparison
/// RFC 9110 prescribes for it.
pub fn matches(req: &HttpRequest, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = opaque(etag);
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || opaque(t) == ours)
}

/// 200 with `body`, or 304 without it when the client already has it; both carry the tag
/// and the caching policy.
pub fn respond(req: &HttpRequest, body: Bytes, etag: &str, policy: CachePolicy) -> HttpResponse {
    let max_age_secs = policy.max_age_secs;
    let unchanged = matches(req, etag);
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag)).insert_header((
        header::CACHE_CONTROL,
        format!("public, max-age={max_age_secs}"),
    ));
    if unchanged {
        res.finish()
    } else {
        res.content_type("application/json").body(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etag::etag_of;
    use actix_web::test::TestRequest;

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let tag = etag_of(b"{}");
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 24);
        let cases = [
            (tag.clone(), true),
            (format!("W/{tag}"), true),
            (format!("\"other\", {tag}"), true),
            ("*".to_owned(), true),
            ("\"other\"".to_owned(), false),
        ];
        for (header_value, expected) in cases {
            let req = TestRequest::get()
                .insert_header((header::IF_NONE_MATCH, header_value.as_str()))
                .to_http_request();
            assert_eq!(matches(&req, &tag), expected, "{header_value}");
        }
        assert!(!matches(&TestRequest::get().to_http_request(), &tag));
    }

    #[test]
    fn not_modified_has_no_body_but_the_headers() {
        let tag = etag_of(b"[1]");
        let req = TestRequest::get()
            .insert_header((header::IF_NONE_MATCH, tag.as_str()))
            .to_http_request();
        let policy = CachePolicy { max_age_secs: 1 };
        let res = respond(&req, Bytes::from_static(b"[1]"), &tag, policy);
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers().get(header::ETAG).unwrap(), tag.as_str());
        assert_eq!(
            res.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=1"
        );
    }
}
