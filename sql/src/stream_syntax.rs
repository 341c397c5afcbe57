//! `STREAM(source)` in SQL, as in Spark Declarative Pipelines and Databricks:
//! `FROM STREAM(read_kafka(...))` or `FROM STREAM read_kafka(...)` marks the source a
//! streaming query reads incrementally. DataFusion has no such syntax, so the source
//! call is renamed to its streaming table function (`sparkling_stream_kafka(...)`,
//! `sparkling_stream_events(...)`) and the `STREAM( )` around it dropped. A table,
//! `STREAM(ns.table)`, becomes `sparkling_stream_table('ns.table')`: its appended rows.

use sqlparser::tokenizer::Token;

use crate::error::Result;
use crate::names::quote_literal;
use crate::tokens::{next_significant, verbatim_tokens};

/// Sources that can be streamed, and the table function each becomes.
const STREAMABLE: &[(&str, &str)] = &[
    ("read_kafka", "sparkling_stream_kafka"),
    ("generate_events", "sparkling_stream_events"),
];

/// What `STREAM(table)` becomes.
pub const TABLE_FUNCTION: &str = "sparkling_stream_table";

/// A dotted name from `tokens[from]` followed by `)`: its parts and the index of the
/// closing parenthesis.
fn table_name(tokens: &[Token], from: usize) -> Option<(Vec<String>, usize)> {
    let mut parts = Vec::new();
    let mut i = from;
    loop {
        match &tokens[i] {
            Token::Word(w) => parts.push(w.value.clone()),
            _ => return None,
        }
        let next = next_significant(tokens, i + 1)?;
        match &tokens[next] {
            Token::Period => i = next_significant(tokens, next + 1)?,
            Token::RParen => return Some((parts, next)),
            _ => return None,
        }
    }
}

/// The rewritten SQL, or `None` if it reads no `STREAM(...)`.
pub fn rewrite(sql: &str) -> Result<Option<String>> {
    if !sql.to_ascii_lowercase().contains("stream") {
        return Ok(None);
    }
    let Some(tokens) = verbatim_tokens(sql) else {
        return Ok(None);
    };
    let significant = |from: usize| next_significant(&tokens, from);
    let word = |i: usize| match &tokens[i] {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.as_str()),
        _ => None,
    };
    let streamable = |i: usize| {
        let name = word(i)?;
        let (_, function) = STREAMABLE
            .iter()
            .find(|(source, _)| name.eq_ignore_ascii_case(source))?;
        significant(i + 1)
            .filter(|&j| tokens[j] == Token::LParen)
            .map(|_| *function)
    };
    let mut out = String::with_capacity(sql.len() + 32);
    let mut changed = false;
    // Depths of the `STREAM(` parentheses whose closing one is to be dropped.
    let mut wrappers: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        if word(i).is_some_and(|w| w.eq_ignore_ascii_case("STREAM"))
            && let Some(next) = significant(i + 1)
        {
            // STREAM read_kafka(...)
            if let Some(function) = streamable(next) {
                out.push_str(function);
                changed = true;
                i = next + 1;
                continue;
            }
            // STREAM(read_kafka(...))
            if tokens[next] == Token::LParen
                && let Some(inner) = significant(next + 1)
            {
                if let Some(function) = streamable(inner) {
                    out.push_str(function);
                    changed = true;
                    wrappers.push(depth + 1);
                    depth += 1;
                    i = inner + 1;
                    continue;
                }
                if let Some((name, close)) = table_name(&tokens, inner) {
                    out.push_str(&format!(
                        "{TABLE_FUNCTION}({})",
                        quote_literal(&name.join("."))
                    ));
                    changed = true;
                    i = close + 1;
                    continue;
                }
            }
        }
        match &tokens[i] {
            Token::LParen => depth += 1,
            Token::RParen => {
                if wrappers.last() == Some(&depth) {
                    wrappers.pop();
                    depth -= 1;
                    i += 1;
                    continue;
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    Ok(changed.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_wrappers_become_streaming_functions() {
        assert_eq!(
            rewrite("SELECT CAST(value AS STRING) FROM STREAM(read_kafka('subscribe', 't')) k")
                .unwrap()
                .unwrap(),
            "SELECT CAST(value AS STRING) FROM sparkling_stream_kafka('subscribe', 't') k"
        );
        assert_eq!(
            rewrite("select * from stream generate_events('kind', 'listen') where (a)")
                .unwrap()
                .unwrap(),
            "select * from sparkling_stream_events('kind', 'listen') where (a)"
        );
        assert_eq!(
            rewrite("SELECT * FROM STREAM ( read_kafka('subscribe', '(x)') )")
                .unwrap()
                .unwrap(),
            "SELECT * FROM sparkling_stream_kafka('subscribe', '(x)') "
        );
    }

    #[test]
    fn other_uses_of_the_word_are_left_alone() {
        assert_eq!(rewrite("SELECT stream FROM streams").unwrap(), None);
        assert_eq!(rewrite("SELECT * FROM read_kafka('a', 'b')").unwrap(), None);
        assert_eq!(rewrite("SELECT 'STREAM(read_kafka(x))'").unwrap(), None);
    }

    #[test]
    fn streams_over_tables_read_their_appends() {
        assert_eq!(
            rewrite("SELECT * FROM STREAM(events) e").unwrap().unwrap(),
            "SELECT * FROM sparkling_stream_table('events') e"
        );
        assert_eq!(
            rewrite("SELECT a FROM STREAM ( bronze . \"Listen\" )")
                .unwrap()
                .unwrap(),
            "SELECT a FROM sparkling_stream_table('bronze.Listen')"
        );
        // Not a name: left for DataFusion to report.
        assert_eq!(rewrite("SELECT * FROM STREAM(1 + 2)").unwrap(), None);
    }
}
