//! The one place the marketplace's outcomes become problem+json bodies.

use platform::ApiError;

use crate::failure::Failure;
use crate::search::service::SearchError;

impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Connection(e) => e,
            Failure::Query(e) => e.into(),
            Failure::Encode(e) => ApiError::internal(e),
            Failure::Index(e) => ApiError::internal(e),
        }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Invalid(e) => ApiError::invalid_query(e.field, e.message),
            SearchError::ClientBusy(_) => ApiError::too_many_requests(
                "rate_limited",
                format!("{e}; try again shortly (answers already cached are not limited)"),
                1,
            ),
            SearchError::Busy => ApiError::unavailable(
                "search_busy",
                "too many searches are running; try again shortly",
                1,
            ),
            SearchError::Timeout => ApiError::unavailable(
                "search_timeout",
                "the search took too long; add words or filters to narrow it",
                1,
            ),
            SearchError::Failed(e) => e.into(),
        }
    }
}

/// 404 for a listing that is not shown.
pub fn listing_not_found() -> ApiError {
    ApiError::not_found("listing")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::request::InvalidQuery;

    #[test]
    fn search_errors_keep_their_codes() {
        let invalid = ApiError::from(SearchError::Invalid(InvalidQuery {
            field: "limit",
            message: "must be an integer from 1 to 100".into(),
        }));
        assert_eq!(invalid.status(), 400);
        assert_eq!(invalid.code(), "invalid_query");
        assert!(invalid.to_string().contains("limit"), "{invalid}");
        for (e, code) in [
            (SearchError::Busy, "search_busy"),
            (SearchError::Timeout, "search_timeout"),
        ] {
            let e = ApiError::from(e);
            assert_eq!((e.status().as_u16(), e.code()), (503, code));
        }
        let e = ApiError::from(SearchError::ClientBusy(4));
        assert_eq!((e.status().as_u16(), e.code()), (429, "rate_limited"));
        assert!(e.to_string().contains("at most 4"), "{e}");
    }
}
