//! Bounded free text (reasons, summaries, descriptions).

use crate::error::ParseError;
use std::fmt;

/// Characters that change how the text around them is shown without being
/// seen themselves: bidirectional overrides, embeddings, isolates and
/// marks. A name or key holding them can display as another one
/// ("Trojan Source"); no field of ours needs them.
pub fn is_hidden_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Trimmed, non-empty text of at most [`Text::MAX_CHARS`] characters with no
/// control characters other than newline and tab, and no
/// [hidden formatting](is_hidden_format).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ParseError::new(field, "must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(field, "is longer than 4000 characters"));
        }
        if trimmed
            .chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_hidden_format(c))
        {
            return Err(ParseError::new(
                field,
                "contains control or bidirectional formatting characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// Text the domain itself writes (a reason it records); checked by the
    /// same rules in tests, so it never needs `parse` at run time.
    pub(crate) fn fixed(text: &'static str) -> Self {
        debug_assert!(Self::parse("fixed", text).is_ok());
        Self(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
