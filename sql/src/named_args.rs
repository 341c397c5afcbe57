//! Named arguments of the table functions that take options, as in Databricks'
//! `read_kafka(bootstrapServers => 'host:9092', subscribe => 'events')`. DataFusion's
//! SQL planner passes table functions positional arguments only, so each
//! `name => value` becomes the pair `'name', value` before planning.

use sqlparser::tokenizer::Token;

use crate::tokens::{next_significant, verbatim_tokens};

/// Table functions whose arguments are options.
const OPTION_FUNCTIONS: &[&str] = &["read_kafka", "generate_events"];

/// The rewritten SQL, or `None` if it has no named arguments to rewrite.
pub fn rewrite(sql: &str) -> Option<String> {
    if !sql.contains("=>") {
        return None;
    }
    let tokens = verbatim_tokens(sql)?;
    let significant = |from: usize| next_significant(&tokens, from);
    let mut out = String::with_capacity(sql.len() + 16);
    let mut changed = false;
    // Parenthesis depth of each open options call, innermost last.
    let mut calls: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Word(w)
                if w.quote_style.is_none()
                    && OPTION_FUNCTIONS
                        .iter()
                        .any(|f| w.value.eq_ignore_ascii_case(f))
                    && significant(i + 1).is_some_and(|j| tokens[j] == Token::LParen) =>
            {
                calls.push(depth + 1);
            }
            Token::Word(w) if calls.last() == Some(&depth) => {
                if let Some(arrow) = significant(i + 1).filter(|&j| tokens[j] == Token::RArrow) {
                    out.push('\'');
                    out.push_str(&w.value.replace('\'', "''"));
                    out.push_str("',");
                    changed = true;
                    i = arrow + 1;
                    continue;
                }
            }
            Token::LParen => depth += 1,
            Token::RParen => {
                if calls.last() == Some(&depth) {
                    calls.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_options_become_pairs() {
        let sql = "SELECT CAST(value AS STRING) FROM read_kafka(bootstrapServers => '127.0.0.1:9092', \
                   subscribe => 'events', `kafka.fetch.max.bytes` => 1048576) WHERE offset > 3";
        assert_eq!(
            rewrite(sql).unwrap(),
            "SELECT CAST(value AS STRING) FROM read_kafka('bootstrapServers', '127.0.0.1:9092', \
             'subscribe', 'events', 'kafka.fetch.max.bytes', 1048576) WHERE offset > 3"
        );
    }

    #[test]
    fn literals_elsewhere_are_kept_as_written() {
        let sql = "SELECT * FROM read_kafka(subscribe => 'O''Brien') WHERE \"a\"\"b\" = 'x'' OR ''1''=''1'";
        assert_eq!(
            rewrite(sql).unwrap(),
            "SELECT * FROM read_kafka('subscribe', 'O''Brien') WHERE \"a\"\"b\" = 'x'' OR ''1''=''1'"
        );
    }

    #[test]
    fn other_functions_and_plain_sql_are_left_alone() {
        assert_eq!(rewrite("SELECT 1"), None);
        assert_eq!(rewrite("SELECT f(a => 1) FROM t"), None);
        assert_eq!(
            rewrite("SELECT * FROM read_kafka(subscribe => 't') k JOIN u ON f(x => 1)").unwrap(),
            "SELECT * FROM read_kafka('subscribe', 't') k JOIN u ON f(x => 1)"
        );
    }
}
