//! Keyset cursors: the sort key of a page's last row and the fingerprint of the filters,
//! base64url-encoded.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use time::OffsetDateTime;
use uuid::Uuid;

use super::filter::{After, SearchFilter};

/// The opaque cursor continuing `filter`'s results after `after`.
pub fn encode_cursor(filter: &SearchFilter, after: After) -> String {
    let fp = filter.fingerprint();
    let raw = match after {
        After::Ranked { exact, rank, id } => {
            format!(
                "r.{}.{:08x}.{}.{fp}",
                u8::from(exact),
                rank.to_bits(),
                id.simple()
            )
        }
        After::Recent { created_at, id } => {
            format!(
                "t.{}.{}.{fp}",
                created_at.unix_timestamp_nanos() / 1000,
                id.simple()
            )
        }
    };
    B64.encode(raw)
}

/// Decodes a cursor issued for `filter`; `None` when it is malformed, of another search, or
/// of the other order.
pub fn decode_cursor(filter: &SearchFilter, cursor: &str) -> Option<After> {
    if cursor.len() > 200 {
        return None;
    }
    let raw = String::from_utf8(B64.decode(cursor).ok()?).ok()?;
    let parts: Vec<&str> = raw.split('.').collect();
    let after = match (parts.as_slice(), filter.text.is_some()) {
        (["r", exact, rank, id, fp], true) if *fp == filter.fingerprint() => After::Ranked {
            exact: match *exact {
                "0" => false,
                "1" => true,
                _ => return None,
            },
            rank: f32::from_bits(u32::from_str_radix(rank, 16).ok()?),
            id: Uuid::parse_str(id).ok()?,
        },
        (["t", micros, id, fp], false) if *fp == filter.fingerprint() => After::Recent {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(
                micros.parse::<i128>().ok()? * 1000,
            )
            .ok()?,
            id: Uuid::parse_str(id).ok()?,
        },
        _ => return None,
    };
    Some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_search() {
        let ranked = SearchFilter {
            text: Some("invoice".into()),
            ..SearchFilter::default()
        };
        let after = After::Ranked {
            exact: true,
            rank: 0.6,
            id: Uuid::now_v7(),
        };
        let c = encode_cursor(&ranked, after);
        assert_eq!(decode_cursor(&ranked, &c), Some(after));
        let other = SearchFilter {
            text: Some("contract".into()),
            ..SearchFilter::default()
        };
        assert_eq!(decode_cursor(&other, &c), None);
        assert_eq!(decode_cursor(&SearchFilter::default(), &c), None);

        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_000).unwrap();
        let recent = After::Recent {
            created_at: at,
            id: Uuid::now_v7(),
        };
        let all = SearchFilter::default();
        let c = encode_cursor(&all, recent);
        assert_eq!(decode_cursor(&all, &c), Some(recent));
        for bad in ["", "nonsense", "dC4xLjIuMw"] {
            assert_eq!(decode_cursor(&all, bad), None, "{bad}");
        }
    }
}
