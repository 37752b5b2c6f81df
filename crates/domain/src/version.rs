//! Agent versions.

use crate::wire::checked_string;

/// A semantic version such as `1.4.0` or `2.0.0-rc.1`, at most [`Version::MAX_LEN`] bytes.
///
/// The core is three dot-separated numbers without leading zeros; what follows (from the
/// first `-` or `+`) is letters, digits, `-`, `+` and `.`, not ending in `-`, `+` or `.`.
/// [`Version::parse`] trims first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(String);

/// Why a string is not a [`Version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a semantic version such as 1.4.0 or 2.0.0-rc.1")]
pub struct InvalidVersion;

impl Version {
    /// Longest version, in bytes.
    pub const MAX_LEN: usize = 64;

    /// The version `s` names, trimmed.
    pub fn parse(s: &str) -> Result<Self, InvalidVersion> {
        let v = s.trim();
        let (core, rest) = v.split_at(v.find(['-', '+']).unwrap_or(v.len()));
        let core_ok = core.split('.').count() == 3
            && core.split('.').all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'))
            });
        let rest_ok = rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
            && !rest.ends_with(['-', '+', '.']);
        if core_ok && rest_ok && v.len() <= Self::MAX_LEN {
            Ok(Self(v.to_owned()))
        } else {
            Err(InvalidVersion)
        }
    }
}

checked_string!(Version, InvalidVersion);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semantic_versions_are_accepted() {
        for ok in [
            "0.0.0",
            "1.4.0",
            "10.20.30",
            "2.0.0-rc.1",
            "1.0.0+build.5",
            "1.0.0-alpha+001",
            "1.0.0-x-y",
        ] {
            assert_eq!(Version::parse(ok).unwrap(), ok);
        }
        assert_eq!(Version::parse(" 1.2.3\n").unwrap().as_str(), "1.2.3");
    }

    #[test]
    fn other_strings_are_refused() {
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "v1.2.3",
            "1..3",
            "1.2.x",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-rc.",
            "1.2.3-rc 1",
            "1.2.3-rc_1",
            "-1.2.3",
            "１.2.3",
        ] {
            assert_eq!(Version::parse(bad), Err(InvalidVersion), "{bad:?}");
        }
        assert_eq!(
            InvalidVersion.to_string(),
            "must be a semantic version such as 1.4.0 or 2.0.0-rc.1"
        );
    }

    #[test]
    fn versions_are_at_most_64_bytes() {
        let longest = format!("1.0.0-{}", "a".repeat(58));
        assert_eq!(longest.len(), 64);
        assert!(Version::parse(&longest).is_ok());
        assert!(Version::parse(&format!("{longest}b")).is_err());
        assert!(
            Version::parse(&format!("  {longest}  ")).is_ok(),
            "after trimming"
        );
    }

    #[test]
    fn serde_is_a_plain_checked_string() {
        let v: Version = serde_json::from_str("\"2.0.0-rc.1\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"2.0.0-rc.1\"");
        assert!(serde_json::from_str::<Version>("\"01.0.0\"").is_err());
    }
}
