//! Data quality expectations, as in Spark Declarative Pipelines:
//! `CONSTRAINT name EXPECT (condition) [ON VIOLATION DROP ROW | FAIL UPDATE]` on a
//! streaming table or materialized view.
//!
//! A row meets an expectation when its condition is true (false and NULL violate it).
//! Before a batch (or a view's refresh) is written, one job counts each expectation's
//! violations over exactly the rows about to be written; a `FAIL UPDATE` expectation
//! with violations stops the write, `DROP ROW` ones filter the rows out, and the rest
//! only count. The counts are committed with the snapshot (summary property
//! [`EXPECTATIONS_PROPERTY`]), so every update's figures are in the table's history.

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use datafusion::common::DFSchema;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, case, lit};
use datafusion::prelude::coalesce;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::error::{LakehouseError, Result};
use sparkling_engine::cluster::Cluster;
use sparkling_engine::job::run_job;
use sparkling_engine::session::Session;

/// The snapshot summary property holding a write's expectation counts (JSON).
pub const EXPECTATIONS_PROPERTY: &str = "sparkling.expectations";

/// What a violation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OnViolation {
    /// Keep the row, count it.
    Warn,
    /// Drop the row.
    DropRow,
    /// Fail the update; nothing is written.
    FailUpdate,
}

/// One expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// Its name.
    pub name: String,
    /// The condition, as SQL over the dataset's columns.
    pub condition: String,
    /// What a violation does.
    pub on_violation: OnViolation,
}

/// How the rows of one write fared against one expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationCounts {
    /// The expectation's name.
    pub name: String,
    /// What a violation does.
    pub on_violation: OnViolation,
    /// Rows that met it.
    pub passed: u64,
    /// Rows that violated it (dropped, for `DROP ROW`).
    pub failed: u64,
}

/// Sums counts per expectation (in the order first seen).
pub fn add_counts(total: &mut Vec<ExpectationCounts>, more: &[ExpectationCounts]) {
    for counts in more {
        match total.iter_mut().find(|t| t.name == counts.name) {
            Some(t) => {
                t.passed += counts.passed;
                t.failed += counts.failed;
            }
            None => total.push(counts.clone()),
        }
    }
}

/// The counts a snapshot summary carries, if any.
pub fn counts_of(summary: &std::collections::HashMap<String, String>) -> Vec<ExpectationCounts> {
    summary
        .get(EXPECTATIONS_PROPERTY)
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// Checks `expectations` on the rows of `plan`: counts the violations in one job,
/// fails if a `FAIL UPDATE` one has any, and returns the rows to write (without those
/// violating a `DROP ROW` one) and the counts. Without expectations, `plan` as is.
pub async fn apply(
    cluster: &Cluster,
    session: &Session,
    plan: LogicalPlan,
    expectations: &[Expectation],
    dataset: &str,
    interrupted: watch::Receiver<bool>,
) -> Result<(LogicalPlan, Vec<ExpectationCounts>)> {
    if expectations.is_empty() {
        return Ok((plan, Vec::new()));
    }
    let met = conditions(session, plan.schema(), expectations, dataset)?;
    let mut aggregates = vec![count(lit(1)).alias("rows")];
    for (i, condition) in met.iter().enumerate() {
        aggregates.push(
            sum(case(condition.clone())
                .when(lit(true), lit(0i64))
                .otherwise(lit(1i64))?)
            .alias(format!("failed_{i}")),
        );
    }
    let counting = LogicalPlanBuilder::from(plan.clone())
        .aggregate(Vec::<Expr>::new(), aggregates)?
        .build()?;
    let schema = Arc::new(counting.schema().as_arrow().clone());
    let stream = run_job(
        cluster,
        &format!("expectations of {dataset}"),
        Arc::clone(&session.ctx),
        &counting,
        schema,
        interrupted,
        |_| {},
    )
    .await?;
    let batches = datafusion::physical_plan::common::collect(stream).await?;
    let value = |column: usize| -> Result<u64> {
        let mut total = 0;
        for b in batches.iter().filter(|b| b.num_rows() > 0) {
            let array = arrow::compute::cast(b.column(column), &arrow::datatypes::DataType::Int64)
                .map_err(datafusion::error::DataFusionError::from)?;
            let values = array.as_primitive::<Int64Type>();
            if !values.is_null(0) {
                total += values.value(0).max(0) as u64;
            }
        }
        Ok(total)
    };
    let rows = value(0)?;
    let counts: Vec<ExpectationCounts> = expectations
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let failed = value(i + 1)?;
            Ok(ExpectationCounts {
                name: e.name.clone(),
                on_violation: e.on_violation,
                passed: rows - failed.min(rows),
                failed,
            })
        })
        .collect::<Result<_>>()?;
    for (e, c) in expectations.iter().zip(&counts) {
        if e.on_violation == OnViolation::FailUpdate && c.failed > 0 {
            return Err(LakehouseError::InvalidInput(format!(
                "{dataset}: expectation {} ({}) failed on {} of {rows} rows, and ON VIOLATION \
                 FAIL UPDATE stops the update; nothing was written",
                e.name, e.condition, c.failed
            )));
        }
    }
    let dropping: Vec<Expr> = expectations
        .iter()
        .zip(met)
        .filter(|(e, _)| e.on_violation == OnViolation::DropRow)
        .map(|(_, m)| m)
        .collect();
    let rows_to_write = match dropping.into_iter().reduce(Expr::and) {
        Some(keep) => LogicalPlanBuilder::from(plan).filter(keep)?.build()?,
        None => plan,
    };
    Ok((rows_to_write, counts))
}

/// Each expectation's condition as an expression that is true exactly when a row
/// meets it (`coalesce(condition, false)`).
fn conditions(
    session: &Session,
    schema: &DFSchema,
    expectations: &[Expectation],
    dataset: &str,
) -> Result<Vec<Expr>> {
    let state = session.ctx.state();
    expectations
        .iter()
        .map(|e| {
            let condition = state
                .create_logical_expr(&e.condition, schema)
                .map_err(|err| {
                    LakehouseError::InvalidInput(format!(
                        "{dataset}: expectation {} ({}) does not plan: {}",
                        e.name,
                        e.condition,
                        err.strip_backtrace()
                    ))
                })?;
            Ok(coalesce(vec![condition, lit(false)]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_name() {
        let c = |name: &str, passed, failed| ExpectationCounts {
            name: name.into(),
            on_violation: OnViolation::DropRow,
            passed,
            failed,
        };
        let mut total = vec![c("a", 1, 2)];
        add_counts(&mut total, &[c("b", 5, 0), c("a", 10, 1)]);
        assert_eq!(total, vec![c("a", 11, 3), c("b", 5, 0)]);
        let summary = std::collections::HashMap::from([(
            EXPECTATIONS_PROPERTY.to_string(),
            serde_json::to_string(&total).unwrap(),
        )]);
        assert_eq!(counts_of(&summary), total);
        assert!(
            serde_json::to_string(&total)
                .unwrap()
                .contains("\"on_violation\":\"DROP_ROW\"")
        );
    }
}
