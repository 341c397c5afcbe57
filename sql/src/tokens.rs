//! Tokens of SQL text for the rewrites that run before DataFusion plans a statement
//! (named options, `STREAM(...)`, Spark's table syntax): tokens keep their text as
//! written, so joining them gives the statement back unchanged.

use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The tokens of `sql`, literals and identifiers as written; `None` if it does not
/// tokenize (DataFusion then reports the error).
pub fn verbatim_tokens(sql: &str) -> Option<Vec<Token>> {
    Tokenizer::new(&GenericDialect {}, sql)
        .with_unescape(false)
        .tokenize()
        .ok()
}

/// The index of the first token at or after `from` that is not whitespace.
pub fn next_significant(tokens: &[Token], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&j| !matches!(tokens[j], Token::Whitespace(_)))
}
