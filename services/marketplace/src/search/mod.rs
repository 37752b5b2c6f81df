//! Search requests: validating the query string, its normal form (which is also the cache
//! key), and keyset cursors.
//!
//! Order: with `q`, an exact (case-insensitive) name match first, then `ts_rank_cd`
//! descending, then id descending; without `q`, newest first (`created_at`, then id,
//! descending). A cursor carries the sort key of the last row of a page and a fingerprint
//! of the filters it was issued for, so it cannot be replayed against another search.

mod cursor;

use domain::AgentType;
use platform::ApiError;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

pub use cursor::{decode_cursor, encode_cursor};

/// Default and largest page size.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;

/// Query of `GET /api/v1/marketplace/agents`. Empty values count as absent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: Option<String>,
    agent_type: Option<String>,
    capability: Option<String>,
    tag: Option<String>,
    publisher: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// The filters of a search in normal form: text lowercased with whitespace collapsed, tag
/// and publisher lowercased. Two requests with equal filters get equal results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SearchFilter {
    /// Full-text query (`websearch_to_tsquery` syntax), if any.
    pub text: Option<String>,
    /// Agent type.
    pub agent_type: Option<AgentType>,
    /// A capability the agent must have.
    pub capability: Option<String>,
    /// A tag the agent must have.
    pub tag: Option<String>,
    /// The publisher (tenant name), compared case-insensitively.
    pub publisher: Option<String>,
}

/// Where a page starts: strictly after this position of the result order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    /// A text search's sort key.
    Ranked {
        /// Whether the row's name equals the query.
        exact: bool,
        /// Its `ts_rank_cd`.
        rank: f32,
        /// Its id.
        id: Uuid,
    },
    /// A listing's sort key.
    Recent {
        /// Its registration time.
        created_at: OffsetDateTime,
        /// Its id.
        id: Uuid,
    },
}

/// A validated search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    /// What to look for.
    pub filter: SearchFilter,
    /// Where the page starts.
    pub after: Option<After>,
    /// Rows per page.
    pub limit: i64,
}

fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn bounded(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match present(v) {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid_query(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(s) if s.chars().any(char::is_control) => Err(ApiError::invalid_query(
            field,
            "must not contain control characters",
        )),
        other => Ok(other),
    }
}

impl SearchParams {
    /// Validates every parameter; the first bad one is named in a 400 `invalid_query`.
    pub fn parse(self) -> Result<SearchRequest, ApiError> {
        let text = bounded("q", self.q, 200)?.map(|q| {
            q.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        });
        let agent_type = match present(self.agent_type) {
            Some(t) => Some(
                t.parse::<AgentType>()
                    .map_err(|e| ApiError::invalid_query("agent_type", e))?,
            ),
            None => None,
        };
        let capability = bounded("capability", self.capability, 128)?;
        if let Some(c) = &capability
            && !(c.contains(':') && domain::scope::is_valid_scope_token(c))
        {
            return Err(ApiError::invalid_query(
                "capability",
                "must be resource:action, e.g. documents:read",
            ));
        }
        let tag = bounded("tag", self.tag, 64)?.map(|t| t.to_ascii_lowercase());
        if let Some(t) = &tag
            && !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(ApiError::invalid_query(
                "tag",
                "must be 1 to 64 of a-z, 0-9, - _ .",
            ));
        }
        let publisher = bounded("publisher", self.publisher, 200)?.map(|p| p.to_lowercase());
        let limit = match present(self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid_query(
                        "limit",
                        format!("must be an integer from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let filter = SearchFilter {
            text,
            agent_type,
            capability,
            tag,
            publisher,
        };
        let after = match present(self.cursor) {
            Some(c) => Some(decode_cursor(&filter, &c).ok_or_else(|| {
                ApiError::invalid_query("cursor", "is not a cursor this search returned")
            })?),
            None => None,
        };
        Ok(SearchRequest {
            filter,
            after,
            limit,
        })
    }
}

impl SearchFilter {
    /// A canonical string of the filters.
    pub fn key(&self) -> String {
        format!(
            "q={}\u{1f}type={}\u{1f}cap={}\u{1f}tag={}\u{1f}pub={}",
            self.text.as_deref().unwrap_or(""),
            self.agent_type.map_or("", AgentType::as_str),
            self.capability.as_deref().unwrap_or(""),
            self.tag.as_deref().unwrap_or(""),
            self.publisher.as_deref().unwrap_or(""),
        )
    }

    /// A short digest of [`SearchFilter::key`], carried in cursors.
    pub(crate) fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.key().as_bytes());
        hex::encode(&digest.as_ref()[..6])
    }
}

impl SearchRequest {
    /// The normal form of the whole request: equal keys, equal responses.
    pub fn cache_key(&self) -> String {
        let after = self
            .after
            .map(|a| encode_cursor(&self.filter, a))
            .unwrap_or_default();
        format!(
            "{}\u{1f}after={after}\u{1f}limit={}",
            self.filter.key(),
            self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Result<SearchRequest, ApiError> {
        let qs = serde_urlencoded::to_string(pairs).unwrap();
        platform::extract::parse_urlencoded::<SearchParams>(qs.as_bytes(), "")
            .map_err(|e| ApiError::invalid_query(e.field, e.message))?
            .parse()
    }

    #[test]
    fn normal_form_ignores_case_spacing_and_empty_values() {
        let a = params(&[
            ("q", "  Invoice   EXTRACTOR "),
            ("tag", "PDF"),
            ("agent_type", ""),
        ]);
        let b = params(&[("q", "invoice extractor"), ("tag", "pdf"), ("limit", "20")]);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.cache_key(), b.cache_key());
        assert_eq!(a.filter.text.as_deref(), Some("invoice extractor"));
        assert_eq!(a.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (pairs, field) in [
            (vec![("agent_type", "robot")], "agent_type"),
            (vec![("capability", "read")], "capability"),
            (vec![("tag", "no spaces")], "tag"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "101")], "limit"),
            (vec![("limit", "ten")], "limit"),
            (vec![("cursor", "abc")], "cursor"),
            (vec![("q", &"x".repeat(201))], "q"),
        ] {
            let e = params(&pairs).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{pairs:?}");
            assert!(e.to_string().contains(field), "{pairs:?}: {e}");
        }
    }
}
