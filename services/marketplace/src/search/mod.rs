//! Searching the directory: validating the query string ([`request`]), its normal form
//! ([`filter`], also the cache key), keyset cursors ([`cursor`]), and the service that runs a
//! search through the response cache and the database ([`service::Search`]), taking turns in
//! the database fairly between client addresses ([`turns`]).
//!
//! Order: with `q`, an exact (case-insensitive) name match first, then `ts_rank_cd`
//! descending, then id descending; without `q`, newest first (`created_at`, then id,
//! descending). A cursor carries the sort key of the last row of a page and a fingerprint
//! of the filters it was issued for, so it cannot be replayed against another search.

pub mod cursor;
pub mod filter;
pub mod request;
pub mod service;
pub mod turns;

pub use cursor::{decode_cursor, encode_cursor};
pub use filter::{After, SearchFilter};
pub use request::{DEFAULT_LIMIT, InvalidQuery, MAX_LIMIT, SearchParams, SearchRequest};
pub use service::{Search, SearchError};
