//! Keyset pagination: one page type and one cursor format for every list of every service.
//!
//! A list is sorted by a key unique per row (say `(created_at, id)`); a page is the first
//! `limit` rows after a cursor, and its `next_cursor` names the key of its last row when more
//! rows follow. Fetch `limit + 1` rows ([`Limit::fetch`]) and let [`Page::from_rows`] cut the
//! page and write the cursor.
//!
//! **The cursor format**: base64url without padding (RFC 4648 §5, the URL-safe alphabet) of
//! the key's parts joined by `.`. A key is a tuple of [`CursorPart`]s, or any type that
//! implements [`CursorKey`] itself (an enum with a tag part, a key with a fingerprint of the
//! filters it belongs to). Parts are written:
//! - `time::OffsetDateTime`: unix microseconds (`1700000000123456`);
//! - `uuid::Uuid`: hyphenated (read in any form `Uuid::parse_str` accepts);
//! - integers: decimal; `bool`: `0` or `1`;
//! - `f32`/`f64`: the IEEE bits in lower-case hex (`3f19999a`), finite values only.
//!
//! So `(OffsetDateTime, Uuid)` is `base64url("<unix micros>.<uuid>")`, the cursor identity
//! has always issued. Decoding never panics: a cursor longer than [`MAX_CURSOR_LEN`], not
//! base64url, not UTF-8, with the wrong number of parts, or with a part out of range
//! (overflowing numbers, non-finite floats, impossible times) is `None`.
//!
//! In a handler:
//!
//! ```ignore
//! use platform::pagination::{Limit, Page, cursor_param};
//!
//! let limit = Limit::parse(q.limit)?;                       // default 20, 1..=100, else 400
//! let after: Option<(OffsetDateTime, Uuid)> = cursor_param(q.cursor.as_deref())?; // else 400
//! let rows = repo::list(&c, tenant, after, limit.fetch()).await?;  // LIMIT limit + 1
//! let page = Page::from_rows(rows, limit, |r| (r.created_at, r.id)).map(|r| to_json(&r));
//! Ok(HttpResponse::Ok().json(page))                          // {"data": [...], "next_cursor": ...}
//! ```

mod cursor;
mod page;

pub use cursor::{CursorKey, CursorPart, MAX_CURSOR_LEN, decode, encode};
pub use page::{Limit, Page, cursor_param};
