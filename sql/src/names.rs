//! Names in SQL as Spark resolves them: the default catalog and namespace, table and
//! namespace names given as parts (`t`, `ns.t`, `spark_catalog.ns.t`), and quoting
//! text back into SQL.

use crate::error::{Result, SqlError};

/// Name of the default catalog (Spark's session catalog).
pub const DEFAULT_CATALOG: &str = "spark_catalog";
/// Name of the default namespace.
pub const DEFAULT_SCHEMA: &str = "default";

/// `(namespace, table)` of a table name: `t`, `ns.t` or `spark_catalog.ns.t`.
pub fn table_name_parts(parts: &[String]) -> Result<(String, String)> {
    match parts {
        [t] => Ok((DEFAULT_SCHEMA.to_string(), t.clone())),
        [ns, t] => Ok((ns.clone(), t.clone())),
        [c, ns, t] if c == DEFAULT_CATALOG => Ok((ns.clone(), t.clone())),
        [c, _, _] => Err(SqlError::Invalid(format!(
            "unknown catalog {c}: tables live in {DEFAULT_CATALOG}"
        ))),
        _ => Err(SqlError::Invalid(format!(
            "invalid table name {}",
            parts.join(".")
        ))),
    }
}

/// The namespace of a namespace name: `ns` or `spark_catalog.ns`.
pub fn namespace_name(parts: &[String]) -> Result<String> {
    match parts {
        [c, ns] if c == DEFAULT_CATALOG => Ok(ns.clone()),
        [ns] => Ok(ns.clone()),
        _ => Err(SqlError::Invalid(format!(
            "invalid namespace name {}",
            parts.join(".")
        ))),
    }
}

/// `(namespace, table)` of a dotted name as the table functions take it (`ns.t`, or
/// `t` in `default_namespace`): the table is after the last dot.
pub fn split_table_name(name: &str, default_namespace: &str) -> (String, String) {
    match name.rsplit_once('.') {
        Some((ns, t)) => (ns.to_string(), t.to_string()),
        None => (default_namespace.to_string(), name.to_string()),
    }
}

/// The parts of a table name as the DataFrame API takes it (`saveAsTable("db.T")`):
/// split at dots outside backquotes; unquoted parts ignore case, so they are
/// lowercased as SQL's unquoted names are (`` `My.T` `` stays one part, as written).
pub fn parse_table_name(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted_part = false;
    let mut in_quotes = false;
    let mut chars = text.trim().chars().peekable();
    let finish = |current: &mut String, quoted: &mut bool, parts: &mut Vec<String>| {
        let part = std::mem::take(current);
        parts.push(if *quoted { part } else { part.to_lowercase() });
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '`' if in_quotes && chars.peek() == Some(&'`') => {
                current.push('`');
                chars.next();
            }
            '`' => {
                in_quotes = !in_quotes;
                quoted_part = true;
            }
            '.' if !in_quotes => finish(&mut current, &mut quoted_part, &mut parts),
            c => current.push(c),
        }
    }
    finish(&mut current, &mut quoted_part, &mut parts);
    parts
}

/// `text` as a SQL string literal: `O'Brien` becomes `'O''Brien'`.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as a quoted SQL identifier: `my "col"` becomes `"my ""col"""`.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_resolve_in_the_default_catalog() {
        let parts = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            table_name_parts(&parts("t")).unwrap(),
            ("default".into(), "t".into())
        );
        assert_eq!(
            table_name_parts(&parts("spark_catalog.ns.t")).unwrap(),
            ("ns".into(), "t".into())
        );
        assert!(table_name_parts(&parts("other.ns.t")).is_err());
        assert!(table_name_parts(&parts("a.b.c.d")).is_err());
        assert_eq!(namespace_name(&parts("spark_catalog.ns")).unwrap(), "ns");
        assert!(namespace_name(&parts("a.b.c")).is_err());
    }

    #[test]
    fn data_frame_table_names_ignore_case_unless_quoted() {
        assert_eq!(parse_table_name("tblA"), vec!["tbla"]);
        assert_eq!(parse_table_name("Db.tblA"), vec!["db", "tbla"]);
        assert_eq!(parse_table_name("db.`My.T`"), vec!["db", "My.T"]);
        assert_eq!(parse_table_name("`a``b`"), vec!["a`b"]);
    }

    #[test]
    fn dotted_names_split_at_the_last_dot() {
        assert_eq!(
            split_table_name("lake.t", "default"),
            ("lake".into(), "t".into())
        );
        assert_eq!(split_table_name("t", "music"), ("music".into(), "t".into()));
    }

    #[test]
    fn quoting_doubles_the_quote() {
        assert_eq!(quote_literal("O'Brien"), "'O''Brien'");
        assert_eq!(quote_ident("my \"col\""), "\"my \"\"col\"\"\"");
    }
}
