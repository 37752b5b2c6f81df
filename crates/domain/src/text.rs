//! Free-text fields: trimmed, bounded in characters, without control characters.

/// What is wrong with a text field. The messages are the API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Blank where a value is required.
    #[error("must not be empty")]
    Empty,
    /// Longer than the rule allows (in characters, after trimming).
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// Contains a control character (line breaks and tabs are allowed only where the rule
    /// says so).
    #[error("must not contain control characters")]
    Control,
}

/// A rule for one text field. [`TextRule::check`] trims the value, then refuses (in this
/// order) a blank one unless `allow_empty`, one of more than `max_chars` characters, and one
/// with control characters other than `\n`, `\t`, `\r` when `allow_line_breaks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    /// Most characters (not bytes) allowed.
    pub max_chars: usize,
    /// Whether a blank value is accepted (as `""`).
    pub allow_empty: bool,
    /// Whether `\n`, `\t` and `\r` are accepted.
    pub allow_line_breaks: bool,
}

impl TextRule {
    /// An agent's display name: 1 to 128 characters on one line.
    pub const NAME: Self = Self::line(128);
    /// An agent's description: up to 2000 characters, line breaks and tabs allowed.
    pub const DESCRIPTION: Self = Self {
        max_chars: 2000,
        allow_empty: true,
        allow_line_breaks: true,
    };
    /// An agent's owner (person or team): 1 to 256 characters on one line.
    pub const OWNER: Self = Self::line(256);

    /// A required one-line value of at most `max_chars` characters.
    pub const fn line(max_chars: usize) -> Self {
        Self {
            max_chars,
            allow_empty: false,
            allow_line_breaks: false,
        }
    }

    /// The trimmed value, if it follows the rule.
    pub fn check(self, value: &str) -> Result<String, TextError> {
        let t = value.trim();
        if t.is_empty() && !self.allow_empty {
            Err(TextError::Empty)
        } else if t.chars().count() > self.max_chars {
            Err(TextError::TooLong(self.max_chars))
        } else if t
            .chars()
            .any(|c| c.is_control() && !(self.allow_line_breaks && matches!(c, '\n' | '\t' | '\r')))
        {
            Err(TextError::Control)
        } else {
            Ok(t.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(rule: TextRule, v: &str) -> String {
        rule.check(v).unwrap_err().to_string()
    }

    #[test]
    fn names_are_trimmed_required_bounded_and_on_one_line() {
        assert_eq!(
            TextRule::NAME.check("  Invoice bot \n").unwrap(),
            "Invoice bot"
        );
        assert_eq!(msg(TextRule::NAME, "   "), "must not be empty");
        assert_eq!(msg(TextRule::NAME, ""), "must not be empty");
        let max = "é".repeat(128);
        assert_eq!(
            TextRule::NAME.check(&max).unwrap(),
            max,
            "characters, not bytes"
        );
        assert_eq!(
            msg(TextRule::NAME, &"x".repeat(129)),
            "must be at most 128 characters"
        );
        assert_eq!(
            msg(TextRule::NAME, "a\tb"),
            "must not contain control characters"
        );
        assert_eq!(
            msg(TextRule::NAME, "a\nb"),
            "must not contain control characters"
        );
        assert_eq!(
            msg(TextRule::NAME, "a\u{7f}b"),
            "must not contain control characters"
        );
    }

    #[test]
    fn descriptions_may_be_empty_and_span_lines() {
        assert_eq!(TextRule::DESCRIPTION.check("  ").unwrap(), "");
        assert_eq!(
            TextRule::DESCRIPTION.check("one\n\ttwo\r\nthree").unwrap(),
            "one\n\ttwo\r\nthree"
        );
        assert!(TextRule::DESCRIPTION.check(&"d".repeat(2000)).is_ok());
        assert_eq!(
            msg(TextRule::DESCRIPTION, &"d".repeat(2001)),
            "must be at most 2000 characters"
        );
        assert_eq!(
            msg(TextRule::DESCRIPTION, "bell\u{7}"),
            "must not contain control characters"
        );
    }

    #[test]
    fn owners_allow_256_characters() {
        assert!(TextRule::OWNER.check(&"o".repeat(256)).is_ok());
        assert_eq!(
            msg(TextRule::OWNER, &"o".repeat(257)),
            "must be at most 256 characters"
        );
        assert_eq!(
            msg(TextRule::OWNER, "\u{0}"),
            "must not contain control characters",
            "trim keeps NUL"
        );
    }

    #[test]
    fn length_is_checked_before_control_characters() {
        let long_with_control = format!("{}\u{1}", "x".repeat(200));
        assert_eq!(
            msg(TextRule::NAME, &long_with_control),
            "must be at most 128 characters"
        );
    }
}
