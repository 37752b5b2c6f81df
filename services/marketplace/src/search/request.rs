//! Validating the query string of a search into a [`SearchRequest`], and its normal form
//! (which is also the cache key).

use domain::{AgentType, Capability, Tag};
use serde::Deserialize;

use super::cursor::{decode_cursor, encode_cursor};
use super::filter::{After, SearchFilter};

/// Default and largest page size.
pub const DEFAULT_LIMIT: i64 = 20;
/// Largest page size.
pub const MAX_LIMIT: i64 = 100;
/// Most words a text may hold: runs of letters and digits, wherever they stand (in a phrase,
/// an exclusion, joined by punctuation), `or` aside.
pub const MAX_WORDS: usize = 8;
/// Most exclusions (`-word`, `-"a phrase"`) a text may hold.
pub const MAX_EXCLUSIONS: usize = 4;
/// Most `or`s a text may hold.
pub const MAX_ORS: usize = 4;

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

/// A query parameter with a value this search cannot take (400 `invalid_query`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter {field}: {message}")]
pub struct InvalidQuery {
    /// The parameter.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidQuery {
    InvalidQuery {
        field,
        message: message.into(),
    }
}

fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn bounded(
    field: &'static str,
    v: Option<String>,
    max: usize,
) -> Result<Option<String>, InvalidQuery> {
    match present(v) {
        Some(s) if s.chars().count() > max => {
            Err(invalid(field, format!("must be at most {max} characters")))
        }
        Some(s) if s.chars().any(char::is_control) => {
            Err(invalid(field, "must not contain control characters"))
        }
        other => Ok(other),
    }
}

/// Refuses a text that would cost more than a few words to search: each word, exclusion and
/// alternative adds a term every matching listing is ranked against.
fn within_cost(text: &str) -> Result<(), InvalidQuery> {
    let tokens = || text.split_whitespace();
    let ors = tokens().filter(|t| *t == "or").count();
    let exclusions = tokens()
        .filter(|t| t.starts_with('-') && t.chars().any(char::is_alphanumeric))
        .count();
    let words = tokens()
        .filter(|t| *t != "or")
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .count();
    if words > MAX_WORDS {
        return Err(invalid("q", format!("must have at most {MAX_WORDS} words")));
    }
    if exclusions > MAX_EXCLUSIONS {
        return Err(invalid(
            "q",
            format!("must have at most {MAX_EXCLUSIONS} exclusions (-word)"),
        ));
    }
    if ors > MAX_ORS {
        return Err(invalid("q", format!("must have at most {MAX_ORS} `or`s")));
    }
    Ok(())
}

impl SearchParams {
    /// Validates every parameter; the first bad one is named in the error.
    pub fn parse(self) -> Result<SearchRequest, InvalidQuery> {
        let text = bounded("q", self.q, 200)?.map(|q| {
            q.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        });
        if let Some(text) = &text {
            within_cost(text)?;
        }
        let agent_type = match present(self.agent_type) {
            Some(t) => Some(
                t.parse::<AgentType>()
                    .map_err(|e| invalid("agent_type", e))?,
            ),
            None => None,
        };
        // The rules agents are registered with.
        let capability = present(self.capability)
            .map(|c| Capability::parse(&c))
            .transpose()
            .map_err(|e| invalid("capability", e.to_string()))?;
        let tag = present(self.tag)
            .map(|t| Tag::parse(&t))
            .transpose()
            .map_err(|e| invalid("tag", e.to_string()))?;
        let publisher = bounded("publisher", self.publisher, 200)?.map(|p| p.to_lowercase());
        let limit = match present(self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    invalid("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
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
            Some(c) => Some(
                decode_cursor(&filter, &c)
                    .ok_or_else(|| invalid("cursor", "is not a cursor this search returned"))?,
            ),
            None => None,
        };
        Ok(SearchRequest {
            filter,
            after,
            limit,
        })
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

    fn params(pairs: &[(&str, &str)]) -> Result<SearchRequest, InvalidQuery> {
        let qs = serde_urlencoded::to_string(pairs).unwrap();
        platform::extract::parse_urlencoded::<SearchParams>(qs.as_bytes(), "")
            .unwrap()
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
    fn texts_up_to_the_cost_bound_pass() {
        for q in [
            "a b c d e f g h",
            "a-b c -d -e -f -g",
            "\"a b\" or c or d or e or f",
            "- or -- x",
        ] {
            assert!(params(&[("q", q)]).is_ok(), "{q}");
        }
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
            (vec![("q", "a b c d e f g h i")], "q"),
            (vec![("q", "a.b.c.d.e.f.g.h.i")], "q"),
            (vec![("q", "a -b -c -d -e -f")], "q"),
            (vec![("q", "a OR b or c or d or e or f")], "q"),
        ] {
            let e = params(&pairs).unwrap_err();
            assert_eq!(e.field, field, "{pairs:?}: {e}");
            assert!(e.to_string().contains(field), "{pairs:?}: {e}");
        }
    }
}
