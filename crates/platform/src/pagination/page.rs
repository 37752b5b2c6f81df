//! [`Page`] and [`Limit`]: cutting a page from `limit + 1` rows, and the `limit` and
//! `cursor` query parameters.

use serde::Serialize;

use super::cursor::{CursorKey, decode, encode};
use crate::errors::ApiError;

/// A page size read from a `limit` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// The page size when `limit` is absent.
    pub const DEFAULT: u32 = 20;
    /// The largest `limit` accepted.
    pub const MAX: u32 = 100;

    /// `limit` with the defaults: [`Limit::DEFAULT`] when absent, else 1 to [`Limit::MAX`]
    /// (400 `invalid_query` "must be from 1 to 100").
    pub fn parse(raw: Option<u32>) -> Result<Self, ApiError> {
        Self::within(raw, Self::DEFAULT, Self::MAX)
    }

    /// `limit` with another default and maximum: `default` when absent, else 1 to `max`
    /// (400 `invalid_query` "must be from 1 to `max`").
    pub fn within(raw: Option<u32>, default: u32, max: u32) -> Result<Self, ApiError> {
        match raw.unwrap_or(default) {
            n @ 1.. if n <= max => Ok(Self(n)),
            _ => Err(ApiError::invalid_query(
                "limit",
                format!("must be from 1 to {max}"),
            )),
        }
    }

    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }

    /// How many rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(self) -> i64 {
        i64::from(self.0) + 1
    }
}

/// The `cursor` query parameter: `None` when absent, the key it names, or 400
/// `invalid_query` ("is not a cursor this API returned").
pub fn cursor_param<K: CursorKey>(raw: Option<&str>) -> Result<Option<K>, ApiError> {
    raw.map(|c| {
        decode(c)
            .ok_or_else(|| ApiError::invalid_query("cursor", "is not a cursor this API returned"))
    })
    .transpose()
}

/// One page of a list: `{"data": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows of the page.
    pub data: Vec<T>,
    /// The cursor of the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `rows` fetched with [`Limit::fetch`] (at most `limit + 1`): the first
    /// `limit` rows, and when more were fetched, the cursor after the last one kept (its key
    /// from `key`).
    pub fn from_rows<K: CursorKey>(
        mut rows: Vec<T>,
        limit: Limit,
        key: impl FnOnce(&T) -> K,
    ) -> Self {
        let limit = limit.get() as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode(&key(last)))
        } else {
            None
        };
        Self {
            data: rows,
            next_cursor,
        }
    }

    /// The same page with every row mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn limits_default_and_bounds() {
        assert_eq!(Limit::parse(None).unwrap().get(), 20);
        assert_eq!(Limit::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(Limit::parse(Some(100)).unwrap().fetch(), 101);
        for bad in [0, 101, u32::MAX] {
            let e = Limit::parse(Some(bad)).unwrap_err();
            assert_eq!(e.status().as_u16(), 400);
            let body = e.problem_body(None);
            assert_eq!(body["code"], "invalid_query");
            assert_eq!(body["errors"][0]["field"], "limit");
            assert_eq!(body["errors"][0]["message"], "must be from 1 to 100");
        }
        assert_eq!(Limit::within(None, 50, 200).unwrap().get(), 50);
        assert_eq!(Limit::within(Some(200), 50, 200).unwrap().get(), 200);
        let e = Limit::within(Some(201), 50, 200).unwrap_err();
        assert_eq!(
            e.problem_body(None)["errors"][0]["message"],
            "must be from 1 to 200"
        );
    }

    #[test]
    fn cursor_params_are_decoded_or_refused() {
        type K = (OffsetDateTime, Uuid);
        assert_eq!(cursor_param::<K>(None).unwrap(), None);
        let key = (OffsetDateTime::UNIX_EPOCH, Uuid::now_v7());
        let c = encode(&key);
        assert_eq!(cursor_param::<K>(Some(&c)).unwrap(), Some(key));
        let e = cursor_param::<K>(Some("nonsense")).unwrap_err();
        let body = e.problem_body(None);
        assert_eq!(body["code"], "invalid_query");
        assert_eq!(body["errors"][0]["field"], "cursor");
    }

    #[test]
    fn pages_are_cut_from_one_extra_row() {
        let limit = Limit::within(Some(2), 2, 10).unwrap();
        let page = Page::from_rows(vec![1_i64, 2, 3], limit, |r| *r);
        assert_eq!(page.data, vec![1, 2]);
        assert_eq!(decode::<i64>(page.next_cursor.as_deref().unwrap()), Some(2));
        let last = Page::from_rows(vec![4_i64, 5], limit, |r| *r);
        assert_eq!(last.next_cursor, None);
        let json = serde_json::to_value(last.map(|r| r * 10)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"data": [40, 50], "next_cursor": null})
        );
        let empty = Page::from_rows(Vec::<i64>::new(), limit, |r| *r);
        assert!(empty.data.is_empty() && empty.next_cursor.is_none());
    }
}
