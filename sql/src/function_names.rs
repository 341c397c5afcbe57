//! Table function names ignore case, as in Spark (`FROM RANGE(5)`): DataFusion looks
//! table functions up by their name as written, so calls of the ones Sparkling
//! registers are lowercased.

use sqlparser::tokenizer::Token;

use crate::tokens::{next_significant, verbatim_tokens};

/// The table functions every session registers.
const TABLE_FUNCTIONS: &[&str] = &["range", "generate_series", "read_kafka", "generate_events"];

/// The rewritten SQL, or `None` if no call needs its name lowercased.
pub fn rewrite(sql: &str) -> Option<String> {
    let needs = |w: &str| {
        w.chars().any(|c| c.is_ascii_uppercase())
            && TABLE_FUNCTIONS.iter().any(|f| w.eq_ignore_ascii_case(f))
    };
    if !sql
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(needs)
    {
        return None;
    }
    let tokens = verbatim_tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut changed = false;
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Word(w)
                if w.quote_style.is_none()
                    && needs(&w.value)
                    && next_significant(&tokens, i + 1)
                        .is_some_and(|j| tokens[j] == Token::LParen) =>
            {
                out.push_str(&w.value.to_ascii_lowercase());
                changed = true;
            }
            other => out.push_str(&other.to_string()),
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_function_calls_are_lowercased() {
        assert_eq!(
            rewrite("SELECT id AS value FROM RANGE(5) WHERE 'RANGE(' <> x").unwrap(),
            "SELECT id AS value FROM range(5) WHERE 'RANGE(' <> x"
        );
        assert_eq!(rewrite("SELECT * FROM range(5)"), None);
        assert_eq!(rewrite("SELECT Range FROM t"), None);
    }
}
