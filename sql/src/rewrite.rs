//! The rewrite chain every statement passes before DataFusion plans it: table function
//! names lose their case ([`crate::function_names`]), named options
//! of table functions become pairs ([`crate::named_args`]), `STREAM(source)` becomes a
//! streaming table function ([`crate::stream_syntax`]) and, where Iceberg tables are
//! there, Spark's time travel and metadata tables become table functions
//! ([`crate::table_syntax`]).

use std::borrow::Cow;

use crate::error::Result;

/// `sql` as DataFusion should plan it; `lakehouse`: Iceberg tables are there, so
/// Spark's table syntax applies. Unchanged text is borrowed.
pub fn rewrite(sql: &str, lakehouse: bool) -> Result<Cow<'_, str>> {
    let mut text = Cow::Borrowed(sql);
    if let Some(divided) = crate::spark_operators::rewrite(&text) {
        text = Cow::Owned(divided);
    }
    if let Some(lowered) = crate::function_names::rewrite(&text) {
        text = Cow::Owned(lowered);
    }
    if let Some(named) = crate::named_args::rewrite(&text) {
        text = Cow::Owned(named);
    }
    if let Some(streamed) = crate::stream_syntax::rewrite(&text)? {
        text = Cow::Owned(streamed);
    }
    if lakehouse && let Some(tables) = crate::table_syntax::rewrite(&text) {
        text = Cow::Owned(tables);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_applies_each_rewrite_in_turn() {
        let sql = "SELECT * FROM STREAM(read_kafka(subscribe => 't')) JOIN lake.t.files ON true";
        assert_eq!(
            rewrite(sql, true).unwrap(),
            "SELECT * FROM sparkling_stream_kafka('subscribe', 't') JOIN \
             sparkling_metadata_table('lake.t', 'files') ON true"
        );
        assert_eq!(
            rewrite(sql, false).unwrap(),
            "SELECT * FROM sparkling_stream_kafka('subscribe', 't') JOIN lake.t.files ON true"
        );
        assert!(matches!(
            rewrite("SELECT 1", true).unwrap(),
            Cow::Borrowed(_)
        ));
    }
}
