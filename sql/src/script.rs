//! A submitted SQL script split into its statements: `;` ends a statement unless it
//! is inside a string, a quoted name or a comment. Each statement keeps its text as
//! written and the line it starts on, for messages.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Result, SqlError};

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptStatement {
    /// The statement as written (without the `;`), trimmed.
    pub text: String,
    /// The line it starts on, from 1.
    pub line: u64,
}

/// The statements of `script`, in order; blank and comment-only stretches are skipped.
pub fn split(script: &str) -> Result<Vec<ScriptStatement>> {
    let tokens = Tokenizer::new(&GenericDialect {}, script)
        .with_unescape(false)
        .tokenize_with_location()
        .map_err(|e| SqlError::Invalid(format!("the script does not parse: {e}")))?;
    let mut statements = Vec::new();
    let mut text = String::new();
    let mut line = None;
    let mut finish = |text: &mut String, line: &mut Option<u64>| {
        if let Some(start) = line.take() {
            statements.push(ScriptStatement {
                text: text.trim().to_string(),
                line: start,
            });
        }
        text.clear();
    };
    for token in tokens {
        match &token.token {
            Token::SemiColon => finish(&mut text, &mut line),
            Token::EOF => {}
            t => {
                if line.is_none() && !matches!(t, Token::Whitespace(_)) {
                    line = Some(token.span.start.line);
                }
                if line.is_some() {
                    text.push_str(&t.to_string());
                }
            }
        }
    }
    finish(&mut text, &mut line);
    if statements.is_empty() {
        return Err(SqlError::NoStatements);
    }
    Ok(statements)
}

/// The first line of `text` for a message, cut to at most `max_chars` characters
/// (ending in `...` when cut).
pub fn first_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max_chars {
        let kept: String = line.chars().take(max_chars.saturating_sub(3)).collect();
        format!("{kept}...")
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_are_cut_on_characters() {
        assert_eq!(first_line("SELECT 1\nFROM t", 80), "SELECT 1");
        assert_eq!(first_line("", 80), "");
        assert_eq!(first_line("äöüäöü", 5), "äö...");
        assert_eq!(first_line("äöüäö", 5), "äöüäö");
    }

    #[test]
    fn statements_split_at_semicolons_outside_strings_and_comments() {
        let script = "-- set up\nCREATE TABLE t (x INT);\n\n\
                      INSERT INTO t VALUES (1), (2); -- two rows\n\
                      SELECT 'a;b' AS \"c;d\" /* ; */ FROM t\n;;\n-- the end\n";
        let statements = split(script).unwrap();
        let texts: Vec<_> = statements.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "CREATE TABLE t (x INT)",
                "INSERT INTO t VALUES (1), (2)",
                "SELECT 'a;b' AS \"c;d\" /* ; */ FROM t"
            ]
        );
        let lines: Vec<_> = statements.iter().map(|s| s.line).collect();
        assert_eq!(lines, [2, 4, 5]);
    }

    #[test]
    fn empty_and_broken_scripts_are_refused() {
        assert!(split("  -- nothing\n;\n").is_err());
        let e = split("SELECT 'unterminated").unwrap_err().to_string();
        assert!(e.contains("does not parse"), "{e}");
    }
}
