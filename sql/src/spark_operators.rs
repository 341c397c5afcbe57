//! Spark SQL's integer division operator, `a div b`, which DataFusion does not
//! know: it becomes `CAST(trunc(CAST(a AS DOUBLE) / CAST(b AS DOUBLE)) AS BIGINT)`,
//! Spark's answer (the whole part of the quotient; the analyzer's Spark arithmetic fails
//! a zero divisor with `DIVIDE_BY_ZERO`, as for `/`). `trunc` changes nothing but the
//! column's name, which would otherwise be the same as `a / b`'s.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, visit_expressions_mut};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use crate::tokens::{next_significant, verbatim_tokens};

/// The rewritten SQL, or `None` if it has no `div` operator (or does not parse:
/// DataFusion then reports the error).
pub fn rewrite(sql: &str) -> Option<String> {
    let marked = mark(sql)?;
    let mut statements = Parser::parse_sql(&GenericDialect {}, &marked).ok()?;
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::DuckIntegerDivide,
            right,
        } = e
        {
            let text = format!(
                "CAST(trunc(CAST(({left}) AS DOUBLE) / CAST(({right}) AS DOUBLE)) AS BIGINT)"
            );
            if let Ok(whole) = Parser::new(&GenericDialect {})
                .try_with_sql(&text)
                .and_then(|mut p| p.parse_expr())
            {
                *e = whole;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Some(
        statements
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// `sql` with each `div` operator written `//` (integer division in the generic
/// dialect's parser), or `None` if there is none.
fn mark(sql: &str) -> Option<String> {
    if !sql.to_ascii_lowercase().contains("div") {
        return None;
    }
    let tokens = verbatim_tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut changed = false;
    let mut previous: Option<&Token> = None;
    for (i, token) in tokens.iter().enumerate() {
        if let Token::Word(w) = token
            && w.quote_style.is_none()
            && w.value.eq_ignore_ascii_case("div")
            && previous.is_some_and(ends_operand)
            && next_significant(&tokens, i + 1).is_some_and(|j| starts_operand(&tokens[j]))
        {
            out.push_str("//");
            changed = true;
        } else {
            out.push_str(&token.to_string());
        }
        if !matches!(token, Token::Whitespace(_)) {
            previous = Some(token);
        }
    }
    changed.then_some(out)
}

/// Whether `t` can end the left operand of a binary operator.
fn ends_operand(t: &Token) -> bool {
    match t {
        Token::Number(..)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::RParen
        | Token::RBracket => true,
        // A keyword such as SELECT or WHERE cannot end an operand; a name can.
        Token::Word(w) => w.quote_style.is_some() || !is_clause_keyword(&w.value),
        _ => false,
    }
}

fn is_clause_keyword(word: &str) -> bool {
    const CLAUSES: &[&str] = &[
        "select", "from", "where", "group", "by", "having", "order", "limit", "and", "or", "not",
        "on", "as", "when", "then", "else", "case", "in", "is", "like", "join", "union", "with",
        "distinct", "all", "set", "values",
    ];
    CLAUSES.iter().any(|c| word.eq_ignore_ascii_case(c))
}

/// Whether `t` can start the right operand.
fn starts_operand(t: &Token) -> bool {
    matches!(
        t,
        Token::Number(..)
            | Token::Word(_)
            | Token::LParen
            | Token::Minus
            | Token::Plus
            | Token::SingleQuotedString(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_becomes_integer_division() {
        assert_eq!(
            rewrite("SELECT 7 div 2").unwrap(),
            "SELECT CAST(trunc(CAST((7) AS DOUBLE) / CAST((2) AS DOUBLE)) AS BIGINT)"
        );
        assert_eq!(
            mark("SELECT a DIV (b + 1) AS q FROM t").unwrap(),
            "SELECT a // (b + 1) AS q FROM t"
        );
        assert!(
            rewrite("SELECT 1 div 2 + 1 AS q")
                .unwrap()
                .ends_with("AS BIGINT) + 1 AS q")
        );
        // A column or alias called div stays.
        assert!(rewrite("SELECT div FROM t").is_none());
        assert!(rewrite("SELECT 7 AS div").is_none());
        assert!(rewrite("SELECT 'a div b'").is_none());
    }
}
