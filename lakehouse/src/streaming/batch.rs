//! One micro-batch: the query's plan with its `STREAM(...)` source swapped for the
//! batch's bounded table, rows `from_json` could not parse split off to the
//! dead-letter table, and each table's append committed with the batch's identity
//! (`sparkling.query-id`, `sparkling.batch-id`, `sparkling.offsets`) so that a batch
//! lands at most once and a restarted query knows where to go on from.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Column, TableReference};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableScan, cast, col};
use iceberg::table::Table;
use sparkling_connectors::stream_source::{StreamSource, StreamSourceTable};

use super::definition::TableName;
use crate::error::{LakehouseError, Result};
use crate::insert::Precondition;

/// Snapshot summary key: the streaming query that committed the snapshot.
pub const QUERY_ID_PROPERTY: &str = "sparkling.query-id";
/// Snapshot summary key: the batch of that query.
pub const BATCH_ID_PROPERTY: &str = "sparkling.batch-id";
/// Snapshot summary key: where the source stands after the batch (JSON).
pub const OFFSETS_PROPERTY: &str = "sparkling.offsets";
/// Snapshot summary key: where the batch started (JSON).
pub const START_OFFSETS_PROPERTY: &str = "sparkling.start-offsets";
/// Snapshot summary key: the uuid of the query's target table (so that the
/// dead-letter table's batches are told apart from those of an earlier table of the
/// same name).
pub const TARGET_PROPERTY: &str = "sparkling.target";

/// The column of rows `from_json` could not parse (Spark's default name).
pub const CORRUPT_RECORD_COLUMN: &str = "_corrupt_record";

/// A batch as a snapshot recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    /// Batch id.
    pub id: i64,
    /// Where it started, if recorded.
    pub start: Option<String>,
    /// Where it ended.
    pub end: String,
}

/// The last batch `query_id` writing to the table `target` committed to `table`.
pub fn last_batch(table: &Table, query_id: &str, target: &str) -> Option<BatchRecord> {
    table
        .metadata()
        .snapshots()
        .filter_map(|s| {
            let p = &s.summary().additional_properties;
            if p.get(QUERY_ID_PROPERTY)? != query_id
                || p.get(TARGET_PROPERTY).is_some_and(|t| t != target)
            {
                return None;
            }
            Some(BatchRecord {
                id: p.get(BATCH_ID_PROPERTY)?.parse::<i64>().ok()?,
                start: p.get(START_OFFSETS_PROPERTY).cloned(),
                end: p.get(OFFSETS_PROPERTY)?.clone(),
            })
        })
        .max_by_key(|b| b.id)
}

/// The identity of a batch, as snapshot properties.
pub struct BatchIdentity<'a> {
    /// Query id.
    pub query_id: &'a str,
    /// Uuid of the query's target table.
    pub target: &'a str,
    /// Batch id.
    pub batch_id: i64,
    /// Where the batch starts.
    pub start: &'a str,
    /// Where it ends.
    pub end: &'a str,
}

impl BatchIdentity<'_> {
    /// The snapshot properties of the batch.
    pub fn properties(&self) -> HashMap<String, String> {
        HashMap::from([
            (QUERY_ID_PROPERTY.to_string(), self.query_id.to_string()),
            (TARGET_PROPERTY.to_string(), self.target.to_string()),
            (BATCH_ID_PROPERTY.to_string(), self.batch_id.to_string()),
            (START_OFFSETS_PROPERTY.to_string(), self.start.to_string()),
            (OFFSETS_PROPERTY.to_string(), self.end.to_string()),
        ])
    }
}

/// Refuses a commit when the table already holds this batch (or a later one) of the
/// query: another run of it got there first.
pub fn not_yet_committed(query_id: &str, target: &str, batch_id: i64) -> Precondition {
    let (query_id, target) = (query_id.to_string(), target.to_string());
    Box::new(
        move |table: &Table| match last_batch(table, &query_id, &target) {
            Some(last) if last.id >= batch_id => Err(format!(
                "batch {batch_id} of streaming query {query_id} is already in {} (batch {} was \
             committed by another run of the query)",
                table.identifier(),
                last.id
            )),
            _ => Ok(()),
        },
    )
}

fn stream_table(scan: &TableScan) -> Option<StreamSourceTable> {
    let provider = source_as_provider(&scan.source).ok()?;
    provider
        .as_any()
        .downcast_ref::<StreamSourceTable>()
        .cloned()
}

/// The one `STREAM(...)` source `plan` reads.
pub fn stream_source(plan: &LogicalPlan) -> Result<StreamSource> {
    let mut sources = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Some(table) = stream_table(scan)
        {
            sources.push(table.source);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match sources.len() {
        1 => Ok(sources.remove(0)),
        0 => Err(LakehouseError::InvalidInput(
            "a streaming query reads a STREAM(...) source, e.g. FROM STREAM(read_kafka(...)); \
             this query reads none"
                .into(),
        )),
        n => Err(LakehouseError::Unsupported(format!(
            "a streaming query reads one STREAM(...) source; this one reads {n}"
        ))),
    }
}

/// `plan` with its `STREAM(...)` source replaced by `batch` (the rows of one
/// micro-batch).
pub fn bind_batch(plan: LogicalPlan, batch: Arc<dyn TableProvider>) -> Result<LogicalPlan> {
    let bound = plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::TableScan(scan) if stream_table(&scan).is_some() => {
            Ok(Transformed::yes(LogicalPlan::TableScan(TableScan {
                source: provider_as_source(Arc::clone(&batch)),
                ..scan
            })))
        }
        other => Ok(Transformed::no(other)),
    })?;
    Ok(bound.data)
}

/// Splits the rows of `plan` into those without a `_corrupt_record` (the column
/// dropped) and those with one (all columns).
pub fn split_dead_letters(plan: LogicalPlan) -> Result<(LogicalPlan, LogicalPlan)> {
    let schema = plan.schema().clone();
    let Some((qualifier, field)) = schema
        .iter()
        .find(|(_, f)| f.name() == CORRUPT_RECORD_COLUMN)
    else {
        return Err(LakehouseError::InvalidInput(format!(
            "a dead-letter table is configured, but the query has no {CORRUPT_RECORD_COLUMN} \
             column: select the fields of from_json(...) (PERMISSIVE mode adds it)"
        )));
    };
    let corrupt = Expr::Column(Column::from((qualifier, field)));
    let kept: Vec<Expr> = schema
        .iter()
        .filter(|(_, f)| f.name() != CORRUPT_RECORD_COLUMN)
        .map(|c| Expr::Column(Column::from(c)))
        .collect();
    let good = LogicalPlanBuilder::from(plan.clone())
        .filter(corrupt.clone().is_null())?
        .project(kept)?
        .build()?;
    let bad = LogicalPlanBuilder::from(plan)
        .filter(corrupt.is_not_null())?
        .build()?;
    Ok((good, bad))
}

/// The columns of `plan` as `table`'s columns, by position (as Spark's `INSERT INTO`
/// matches them), cast where the types differ.
pub fn conform(plan: LogicalPlan, table_schema: &Schema, table: &TableName) -> Result<LogicalPlan> {
    let input = plan.schema().clone();
    if input.fields().len() != table_schema.fields().len() {
        let names = |fields: Vec<String>| fields.join(", ");
        return Err(LakehouseError::InvalidInput(format!(
            "the streaming query produces {} columns ({}) but table {table} has {} ({})",
            input.fields().len(),
            names(input.fields().iter().map(|f| f.name().clone()).collect()),
            table_schema.fields().len(),
            names(
                table_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect()
            ),
        )));
    }
    let exprs: Vec<Expr> = input
        .iter()
        .zip(table_schema.fields())
        .map(|((qualifier, field), target)| {
            let column = col(Column::from((qualifier, field)));
            let value = if field.data_type() == target.data_type() {
                column
            } else {
                cast(column, target.data_type().clone())
            };
            value.alias(target.name())
        })
        .collect();
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// How a table is named in plans.
pub fn table_reference(table: &TableName) -> TableReference {
    TableReference::full(
        sparkling_engine::session::DEFAULT_CATALOG,
        table.namespace.as_str(),
        table.name.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan(sql: &str) -> LogicalPlan {
        sparkling_engine::statement::plan_sql_in(&SessionContext::new().state(), false, sql)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn dead_letters_split_on_the_corrupt_record_column() {
        let input = plan(
            "SELECT * FROM (VALUES (1, CAST(NULL AS VARCHAR)), (NULL, 'oops')) \
             AS t(id, _corrupt_record)",
        )
        .await;
        let (good, bad) = split_dead_letters(input).unwrap();
        assert_eq!(good.schema().fields().len(), 1);
        assert_eq!(good.schema().field(0).name(), "id");
        assert_eq!(bad.schema().fields().len(), 2);
        let without = plan("SELECT 1 AS id").await;
        let e = split_dead_letters(without).unwrap_err().to_string();
        assert!(e.contains("_corrupt_record"), "{e}");
    }

    #[tokio::test]
    async fn rows_are_fitted_to_the_table_by_position() {
        let table = TableName {
            namespace: "default".into(),
            name: "t".into(),
        };
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        let fitted = conform(
            plan("SELECT CAST(1 AS INT) AS a, 'x' AS b").await,
            &schema,
            &table,
        )
        .unwrap();
        assert_eq!(fitted.schema().field(0).name(), "id");
        assert_eq!(fitted.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(fitted.schema().field(1).name(), "name");
        let e = conform(plan("SELECT 1 AS a").await, &schema, &table)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("produces 1 columns (a) but table default.t has 2 (id, name)"),
            "{e}"
        );
    }
}
