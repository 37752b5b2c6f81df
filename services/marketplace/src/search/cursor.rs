//! Keyset cursors: the sort key of a page's last row and the fingerprint of the filters,
//! in the platform's cursor format ([`platform::pagination`]): base64url of
//! `s.<score bits, hex>.<id>.<fingerprint>` for a text search,
//! `t.<created_at, unix micros>.<id>.<fingerprint>` otherwise (ids in simple form).

use platform::pagination::{self, CursorKey, CursorPart};
use time::OffsetDateTime;
use uuid::Uuid;

use super::filter::{After, SearchFilter};

/// The longest cursor read, in characters (issued ones are about 120).
const MAX_LEN: usize = 200;

/// What a cursor carries: a position in the result order and the fingerprint of the
/// filters whose order it is.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    after: After,
    fingerprint: String,
}

impl CursorKey for Key {
    fn parts(&self) -> Vec<String> {
        let mut parts = match self.after {
            After::Ranked { score, id } => {
                vec!["s".to_owned(), score.write(), id.simple().to_string()]
            }
            After::Recent { created_at, id } => {
                vec!["t".to_owned(), created_at.write(), id.simple().to_string()]
            }
        };
        parts.push(self.fingerprint.clone());
        parts
    }

    fn from_parts(parts: &[&str]) -> Option<Self> {
        let (after, fingerprint) = match parts {
            ["s", score, id, fp] => (
                After::Ranked {
                    score: f32::read(score)?,
                    id: Uuid::read(id)?,
                },
                fp,
            ),
            ["t", micros, id, fp] => (
                After::Recent {
                    created_at: OffsetDateTime::read(micros)?,
                    id: Uuid::read(id)?,
                },
                fp,
            ),
            _ => return None,
        };
        Some(Self {
            after,
            fingerprint: (*fingerprint).to_owned(),
        })
    }
}

/// The opaque cursor continuing `filter`'s results after `after`.
pub fn encode_cursor(filter: &SearchFilter, after: After) -> String {
    pagination::encode(&Key {
        after,
        fingerprint: filter.fingerprint(),
    })
}

/// Decodes a cursor issued for `filter`; `None` when it is malformed, of another search, or
/// of the other order.
pub fn decode_cursor(filter: &SearchFilter, cursor: &str) -> Option<After> {
    if cursor.len() > MAX_LEN {
        return None;
    }
    let key: Key = pagination::decode(cursor)?;
    let same_order = matches!(key.after, After::Ranked { .. }) == filter.text.is_some();
    (same_order && key.fingerprint == filter.fingerprint()).then_some(key.after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(q: &str) -> SearchFilter {
        SearchFilter {
            text: Some(q.into()),
            ..SearchFilter::default()
        }
    }

    fn at(micros: i128) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_belong_to_their_search() {
        let ranked = text("invoice");
        let after = After::Ranked {
            score: 0.6,
            id: Uuid::now_v7(),
        };
        let c = encode_cursor(&ranked, after);
        assert_eq!(decode_cursor(&ranked, &c), Some(after));
        assert_eq!(decode_cursor(&text("contract"), &c), None);
        assert_eq!(decode_cursor(&SearchFilter::default(), &c), None);

        let recent = After::Recent {
            created_at: at(1_700_000_000_123_456),
            id: Uuid::now_v7(),
        };
        let all = SearchFilter::default();
        let c = encode_cursor(&all, recent);
        assert_eq!(decode_cursor(&all, &c), Some(recent));
        for bad in ["", "nonsense", "dC4xLjIuMw"] {
            assert_eq!(decode_cursor(&all, bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_issued_before_keep_their_bytes() {
        let id = Uuid::parse_str("0190b3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b").unwrap();
        let cases = [
            // base64url of "s.3f19999a.0190b3c45d6e7f809a1b2c3d4e5f6a7b.5a9fb293cbe9"
            (
                text("invoice"),
                After::Ranked { score: 0.6, id },
                "cy4zZjE5OTk5YS4wMTkwYjNjNDVkNmU3ZjgwOWExYjJjM2Q0ZTVmNmE3Yi41YTlmYjI5M2NiZTk",
            ),
            // base64url of "t.1700000000123456.0190b3c45d6e7f809a1b2c3d4e5f6a7b.bf75981da205"
            (
                SearchFilter::default(),
                After::Recent {
                    created_at: at(1_700_000_000_123_456),
                    id,
                },
                "dC4xNzAwMDAwMDAwMTIzNDU2LjAxOTBiM2M0NWQ2ZTdmODA5YTFiMmMzZDRlNWY2YTdiLmJmNzU5ODFkYTIwNQ",
            ),
        ];
        for (filter, after, issued) in cases {
            assert_eq!(encode_cursor(&filter, after), issued);
            assert_eq!(decode_cursor(&filter, issued), Some(after));
        }
    }
}
