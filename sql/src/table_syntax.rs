//! Spark's table syntax that DataFusion's SQL does not have, rewritten into table
//! functions before planning:
//!
//! - `FROM t FOR VERSION AS OF 42` / `FOR TIMESTAMP AS OF '2024-01-01 00:00:00'`
//!   (also `VERSION AS OF` without `FOR`, and `SYSTEM_VERSION` / `SYSTEM_TIME`) become
//!   `FROM sparkling_table_as_of('ns.t', 'version', '42')`;
//! - metadata tables `FROM ns.t.snapshots` / `spark_catalog.ns.t.files` become
//!   `FROM sparkling_metadata_table('ns.t', 'snapshots')`.

use crate::names::{DEFAULT_CATALOG, DEFAULT_SCHEMA, quote_literal};
use crate::tokens::{self, verbatim_tokens};
use sqlparser::tokenizer::{Token, Word};

/// The metadata tables there are (Spark's `ns.t.snapshots`, `ns.t.files`).
pub const METADATA_TABLES: &[&str] = &["snapshots", "files"];

/// The rewritten SQL, or `None` if nothing needed rewriting.
pub fn rewrite(sql: &str) -> Option<String> {
    let tokens = verbatim_tokens(sql)?;
    let mut out = String::with_capacity(sql.len());
    let mut changed = false;
    let mut after_from = false;
    let mut i = 0;
    while i < tokens.len() {
        if after_from && matches!(tokens[i], Token::Word(_)) {
            let (parts, end) = chain(&tokens, i);
            if let Some((replacement, next)) = time_travel(&tokens, &parts, end) {
                out.push_str(&replacement);
                changed = true;
                i = next;
                after_from = false;
                continue;
            }
            if let Some(replacement) = metadata_table(&parts) {
                out.push_str(&replacement);
                changed = true;
                i = end;
                after_from = false;
                continue;
            }
        }
        match &tokens[i] {
            Token::Whitespace(_) => {}
            Token::Word(w) if is_keyword(w, "FROM") || is_keyword(w, "JOIN") => after_from = true,
            _ => after_from = false,
        }
        out.push_str(&tokens[i].to_string());
        i += 1;
    }
    changed.then_some(out)
}

fn is_keyword(w: &Word, kw: &str) -> bool {
    w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw)
}

fn name_part(w: &Word) -> String {
    if w.quote_style.is_some() {
        w.value.clone()
    } else {
        w.value.to_lowercase()
    }
}

/// The dotted name starting at `start` and the index after it.
fn chain(tokens: &[Token], start: usize) -> (Vec<String>, usize) {
    let mut parts = Vec::new();
    let mut i = start;
    while let Some(Token::Word(w)) = tokens.get(i) {
        parts.push(name_part(w));
        if matches!(tokens.get(i + 1), Some(Token::Period))
            && matches!(tokens.get(i + 2), Some(Token::Word(_)))
        {
            i += 2;
        } else {
            i += 1;
            break;
        }
    }
    (parts, i)
}

/// `ns.t` for a table name (`t`, `ns.t`, `spark_catalog.ns.t`).
fn table_name(parts: &[String]) -> Option<String> {
    match parts {
        [t] => Some(format!("{DEFAULT_SCHEMA}.{t}")),
        [ns, t] if ns != DEFAULT_CATALOG => Some(format!("{ns}.{t}")),
        [c, ns, t] if c == DEFAULT_CATALOG => Some(format!("{ns}.{t}")),
        _ => None,
    }
}

/// The first significant token at or after `i`, or the end.
fn next_significant(tokens: &[Token], i: usize) -> usize {
    tokens::next_significant(tokens, i).unwrap_or(tokens.len())
}

/// `[FOR] (VERSION|SYSTEM_VERSION|TIMESTAMP|SYSTEM_TIME) AS OF value` after a name.
fn time_travel(tokens: &[Token], parts: &[String], end: usize) -> Option<(String, usize)> {
    let mut i = next_significant(tokens, end);
    if matches!(&tokens.get(i), Some(Token::Word(w)) if is_keyword(w, "FOR")) {
        i = next_significant(tokens, i + 1);
    }
    let kind = match tokens.get(i) {
        Some(Token::Word(w)) if is_keyword(w, "VERSION") || is_keyword(w, "SYSTEM_VERSION") => {
            "version"
        }
        Some(Token::Word(w)) if is_keyword(w, "TIMESTAMP") || is_keyword(w, "SYSTEM_TIME") => {
            "timestamp"
        }
        _ => return None,
    };
    i = next_significant(tokens, i + 1);
    if !matches!(tokens.get(i), Some(Token::Word(w)) if is_keyword(w, "AS")) {
        return None;
    }
    i = next_significant(tokens, i + 1);
    if !matches!(tokens.get(i), Some(Token::Word(w)) if is_keyword(w, "OF")) {
        return None;
    }
    i = next_significant(tokens, i + 1);
    let value = match tokens.get(i)? {
        Token::Number(n, _) => n.clone(),
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
        _ => return None,
    };
    let table = table_name(parts)?;
    Some((
        format!(
            "sparkling_table_as_of({}, '{kind}', {})",
            quote_literal(&table),
            quote_literal(&value)
        ),
        i + 1,
    ))
}

/// `ns.t.snapshots` or `spark_catalog.ns.t.files`.
fn metadata_table(parts: &[String]) -> Option<String> {
    let (table, kind) = match parts {
        [c, ns, t, kind] if c == DEFAULT_CATALOG => (format!("{ns}.{t}"), kind),
        [ns, t, kind] if ns != DEFAULT_CATALOG => (format!("{ns}.{t}"), kind),
        _ => return None,
    };
    METADATA_TABLES.contains(&kind.as_str()).then(|| {
        format!(
            "sparkling_metadata_table({}, {})",
            quote_literal(&table),
            quote_literal(kind)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn time_travel_and_metadata_tables_become_table_functions() {
        assert_eq!(
            rewrite("SELECT * FROM lake.t FOR VERSION AS OF 42 x WHERE a = 1").as_deref(),
            Some("SELECT * FROM sparkling_table_as_of('lake.t', 'version', '42') x WHERE a = 1")
        );
        assert_eq!(
            rewrite("select count(*) from t timestamp as of '2024-01-01 00:00:00'").as_deref(),
            Some(
                "select count(*) from sparkling_table_as_of('default.t', 'timestamp', '2024-01-01 00:00:00')"
            )
        );
        assert_eq!(
            rewrite("SELECT * FROM spark_catalog.lake.t.snapshots JOIN lake.t.files f ON true")
                .as_deref(),
            Some(
                "SELECT * FROM sparkling_metadata_table('lake.t', 'snapshots') JOIN sparkling_metadata_table('lake.t', 'files') f ON true"
            )
        );
    }

    #[test]
    fn everything_else_is_left_alone() {
        for sql in [
            "SELECT * FROM lake.t",
            "SELECT a.b.snapshots FROM t",
            "SELECT * FROM spark_catalog.lake.t",
            "SELECT version FROM t",
            "SELECT * FROM lake.t.other",
        ] {
            assert_eq!(rewrite(sql), None, "{sql}");
        }
    }
}
