//! What can be wrong with a policy file, located for the person who wrote it.

use std::ops::Range;

/// A policy that cannot be used. Every message names the file and, where there is one, the
/// line and column of the problem, says what is wrong and how to put it right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The text is larger than a policy may be.
    #[error(
        "{origin}: the policy is {bytes} bytes, more than the {max} a policy may have; \
         shorten it (drop rules, or comments)"
    )]
    TooLarge {
        /// Where the text came from.
        origin: String,
        /// Its size.
        bytes: usize,
        /// The most allowed ([`tessera_protocol::MAX_POLICY_BYTES`]).
        max: usize,
    },
    /// The text is not TOML.
    #[error("{origin}, line {line}, column {column}: this is not valid TOML: {problem}")]
    Syntax {
        /// Where the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What the TOML parser said.
        problem: String,
    },
    /// The TOML is valid, but not a policy that can be used.
    #[error("{origin}, line {line}, column {column}: {problem}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong and the way out.
        problem: String,
    },
}

impl PolicyError {
    /// The 1-based line of the problem, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::TooLarge { .. } => None,
            PolicyError::Syntax { line, .. } | PolicyError::Invalid { line, .. } => Some(*line),
        }
    }

    /// The 1-based column of the problem, when it has one.
    pub fn column(&self) -> Option<usize> {
        match self {
            PolicyError::TooLarge { .. } => None,
            PolicyError::Syntax { column, .. } | PolicyError::Invalid { column, .. } => {
                Some(*column)
            }
        }
    }
}

/// The text being checked and its name, for locating problems in it.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) text: &'a str,
    pub(crate) origin: &'a str,
}

impl Source<'_> {
    /// An [`PolicyError::Invalid`] at the start of `span`.
    pub(crate) fn invalid(&self, span: &Range<usize>, problem: impl Into<String>) -> PolicyError {
        let (line, column) = line_column(self.text, span.start);
        PolicyError::Invalid {
            origin: self.origin.to_string(),
            line,
            column,
            problem: problem.into(),
        }
    }

    /// A [`PolicyError::Syntax`] at the start of `span` (the start of the text without one).
    pub(crate) fn syntax(&self, span: Option<Range<usize>>, problem: &str) -> PolicyError {
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        PolicyError::Syntax {
            origin: self.origin.to_string(),
            line,
            column,
            problem: problem.trim().to_string(),
        }
    }

    /// The line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        line_column(self.text, offset).0
    }
}

/// The 1-based line and column (in characters) of a byte offset; offsets past the end, or
/// inside a character, count as the nearest position before them.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (1, 5));
        assert_eq!(line_column(text, 6), (2, 1));
        // "bé = 2": "é" is two bytes; the "=" is the fourth character.
        assert_eq!(line_column(text, 10), (2, 4));
        assert_eq!(line_column(text, 8), (2, 2)); // inside 'é': back to its start
        assert_eq!(line_column(text, 999), (3, 1));
        assert_eq!(line_column("", 5), (1, 1));
    }
}
