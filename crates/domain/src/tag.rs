//! Tags: the labels an agent carries and the marketplace filters on.

use crate::list::parse_list;
use crate::problems::FieldProblems;
use crate::wire::checked_string;

/// A label: 1 to [`Tag::MAX_LEN`] bytes of `a-z`, `0-9`, `-`, `_`, `.`. [`Tag::parse`]
/// trims and lowercases (ASCII) first, so `" PDF "` is the tag `pdf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// Why a string is not a [`Tag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 64 of a-z, 0-9, - _ .")]
pub struct InvalidTag;

impl Tag {
    /// Longest tag, in bytes.
    pub const MAX_LEN: usize = 64;
    /// Most tags an agent carries.
    pub const MAX_PER_AGENT: usize = 32;

    /// The tag `s` names, trimmed and lowercased. The same rule serves registration and
    /// search filters.
    pub fn parse(s: &str) -> Result<Self, InvalidTag> {
        let t = s.trim().to_ascii_lowercase();
        let ok = !t.is_empty()
            && t.len() <= Self::MAX_LEN
            && t.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
            });
        if ok { Ok(Self(t)) } else { Err(InvalidTag) }
    }

    /// An agent's tags, duplicates (after normalizing) dropped. Problems come as
    /// `("tags", "at most 32 tags")` and `("tags[i]", message)` pairs, all at once.
    pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Self>, FieldProblems> {
        parse_list(
            "tags",
            items,
            Self::MAX_PER_AGENT,
            "at most 32 tags",
            Self::parse,
        )
    }
}

checked_string!(Tag, InvalidTag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_lowercased() {
        assert_eq!(Tag::parse(" PDF ").unwrap(), "pdf");
        assert_eq!(Tag::parse("eu-west_1.b").unwrap().as_str(), "eu-west_1.b");
        assert_eq!("Ocr".parse::<Tag>().unwrap().to_string(), "ocr");
    }

    #[test]
    fn tags_are_1_to_64_bytes_of_a_small_alphabet() {
        assert!(Tag::parse(&"a".repeat(64)).is_ok());
        for bad in [
            String::new(),
            "   ".into(),
            "a".repeat(65),
            "no spaces".into(),
            "two+words".into(),
            "café".into(),
            "a/b".into(),
            "tab\there".into(),
            "x\u{0}".into(),
        ] {
            assert_eq!(Tag::parse(&bad), Err(InvalidTag), "{bad:?}");
        }
        assert_eq!(InvalidTag.to_string(), "must be 1 to 64 of a-z, 0-9, - _ .");
    }

    #[test]
    fn lists_drop_duplicates_and_report_every_problem() {
        let tags = Tag::parse_list(&["ocr", "OCR", " pdf", "ocr"]).unwrap();
        assert_eq!(tags, ["ocr", "pdf"]);
        assert_eq!(Tag::parse_list::<&str>(&[]).unwrap(), Vec::<Tag>::new());
        assert_eq!(
            Tag::parse_list(&["ok", "bad tag", "", "fine"]).unwrap_err(),
            [
                ("tags[1]".to_owned(), InvalidTag.to_string()),
                ("tags[2]".to_owned(), InvalidTag.to_string()),
            ]
        );
    }

    #[test]
    fn lists_hold_at_most_32_tags() {
        let max: Vec<String> = (0..32).map(|i| format!("t{i}")).collect();
        assert_eq!(Tag::parse_list(&max).unwrap().len(), 32);
        let mut over: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        over.push("Not OK".into());
        assert_eq!(
            Tag::parse_list(&over).unwrap_err(),
            [
                ("tags".to_owned(), "at most 32 tags".to_owned()),
                ("tags[33]".to_owned(), InvalidTag.to_string()),
            ]
        );
        let dupes = vec!["same"; 33];
        assert!(
            Tag::parse_list(&dupes).is_err(),
            "counted before deduplication"
        );
    }

    #[test]
    fn serde_is_a_plain_checked_string() {
        let t = Tag::parse("gdpr").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"gdpr\"");
        assert_eq!(serde_json::from_str::<Tag>("\" GDPR\"").unwrap(), t);
        let e = serde_json::from_str::<Tag>("\"no spaces\"").unwrap_err();
        assert!(e.to_string().contains("must be 1 to 64"), "{e}");
        assert_eq!(String::from(t), "gdpr");
    }
}
