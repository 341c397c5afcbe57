//! Spark's parameter markers in SQL text (`spark.sql("... :name ... ?", args=...)`):
//! each marker is replaced by the SQL text of its value, so the statement plans as if
//! the literal had been written there. Markers inside string literals, quoted names
//! and comments are text, not markers.

use sqlparser::tokenizer::Token;

use crate::error::{Result, SqlError};
use crate::tokens::verbatim_tokens;

/// `sql` with `:name` markers replaced by `named[name]` and `?` markers by
/// `positional` in order (values are SQL text, e.g. `3` or `'abc'`).
pub fn bind(sql: &str, named: &[(String, String)], positional: &[String]) -> Result<String> {
    if named.is_empty() && positional.is_empty() {
        return Ok(sql.to_string());
    }
    let tokens = verbatim_tokens(sql)
        .ok_or_else(|| SqlError::Invalid("the statement does not tokenize".into()))?;
    let mut out = String::with_capacity(sql.len());
    let mut next_positional = 0;
    let mut i = 0;
    while i < tokens.len() {
        match (&tokens[i], tokens.get(i + 1)) {
            (Token::Colon, Some(Token::Word(w))) if w.quote_style.is_none() => {
                // `:name` binds only names given: `STRUCT<a:INT>` stays as written.
                if let Some((_, value)) =
                    named.iter().find(|(n, _)| n.eq_ignore_ascii_case(&w.value))
                {
                    out.push_str(&format!("({value})"));
                    i += 2;
                    continue;
                }
                out.push_str(&tokens[i].to_string());
            }
            (Token::Placeholder(p), _) if p == "?" => {
                let value = positional.get(next_positional).ok_or_else(|| {
                    SqlError::Invalid(format!(
                        "[UNBOUND_SQL_PARAMETER] the statement has more `?` markers than the \
                         {} arguments given",
                        positional.len()
                    ))
                })?;
                next_positional += 1;
                out.push_str(&format!("({value})"));
            }
            (token, _) => out.push_str(&token.to_string()),
        }
        i += 1;
    }
    if next_positional < positional.len() {
        return Err(SqlError::Invalid(format!(
            "the statement has {next_positional} `?` markers but {} arguments were given",
            positional.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn binds_named_markers_outside_strings() {
        let sql = bind(
            "SELECT * FROM t WHERE a > :lo AND b = ':lo' AND c < :Hi",
            &named(&[("lo", "3"), ("hi", "'x'")]),
            &[],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT * FROM t WHERE a > (3) AND b = ':lo' AND c < ('x')"
        );
    }

    #[test]
    fn leaves_colons_that_are_not_parameters() {
        let sql = "SELECT CAST(x AS STRUCT<a:INT>), y::int FROM t WHERE z = :z";
        assert_eq!(
            bind(sql, &named(&[("z", "1")]), &[]).unwrap(),
            "SELECT CAST(x AS STRUCT<a:INT>), y::int FROM t WHERE z = (1)"
        );
    }

    #[test]
    fn binds_positional_markers_in_order() {
        let sql = bind(
            "SELECT ? + ?, '?'",
            &[],
            &["1".to_string(), "2".to_string()],
        )
        .unwrap();
        assert_eq!(sql, "SELECT (1) + (2), '?'");
        assert!(bind("SELECT ?", &[], &[]).unwrap() == "SELECT ?");
        assert!(bind("SELECT ?, ?", &[], &["1".to_string()]).is_err());
        assert!(bind("SELECT ?", &[], &["1".to_string(), "2".to_string()]).is_err());
    }
}
