//! DataFrames: DataFusion logical plans built on the client, executed on the cluster.
//!
//! Each operation extends the plan locally (and checks it, so a misspelt column fails
//! at once, with the column list); actions (`collect`, `show`, `count`) send the plan
//! to the gateway as a datafusion-proto `LogicalPlanNode` inside `Relation.extension`.

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, SortExpr, lit};
use datafusion_proto::bytes::logical_plan_to_bytes_with_extension_codec;
use sparkling_plan::SparklingLogicalCodec;
use sparkling_proto::extension::logical_plan_any;
use sparkling_proto::spark::{Command, CreateDataFrameViewCommand, Relation, command, relation};

use crate::error::{ClientError, Result};
use crate::session::SparkSession;

/// A lazily evaluated, distributed table.
#[derive(Clone)]
pub struct DataFrame {
    pub(crate) session: SparkSession,
    plan: LogicalPlan,
}

impl DataFrame {
    pub(crate) fn new(session: SparkSession, plan: LogicalPlan) -> Self {
        Self { session, plan }
    }

    fn with(&self, builder: datafusion::error::Result<LogicalPlanBuilder>) -> Result<Self> {
        Ok(Self::new(self.session.clone(), builder?.build()?))
    }

    fn builder(&self) -> LogicalPlanBuilder {
        LogicalPlanBuilder::from(self.plan.clone())
    }

    /// The logical plan built so far.
    pub fn logical_plan(&self) -> &LogicalPlan {
        &self.plan
    }

    /// The schema of the result.
    pub fn schema(&self) -> SchemaRef {
        std::sync::Arc::clone(self.plan.schema().inner())
    }

    /// Keeps the given expressions as columns.
    pub fn select(&self, exprs: Vec<Expr>) -> Result<Self> {
        self.with(self.builder().project(exprs))
    }

    /// Keeps the named columns.
    pub fn select_columns(&self, names: &[&str]) -> Result<Self> {
        self.select(names.iter().map(|n| datafusion::prelude::col(*n)).collect())
    }

    /// Keeps rows where `predicate` is true.
    pub fn filter(&self, predicate: Expr) -> Result<Self> {
        self.with(self.builder().filter(predicate))
    }

    /// Adds (or replaces) a column.
    pub fn with_column(&self, name: &str, expr: Expr) -> Result<Self> {
        let mut exprs: Vec<Expr> = Vec::new();
        let mut replaced = false;
        for field in self.plan.schema().columns() {
            if field.name == name {
                exprs.push(expr.clone().alias(name));
                replaced = true;
            } else {
                exprs.push(Expr::Column(field));
            }
        }
        if !replaced {
            exprs.push(expr.alias(name));
        }
        self.select(exprs)
    }

    /// Groups by `group` and computes `aggregates`.
    pub fn aggregate(&self, group: Vec<Expr>, aggregates: Vec<Expr>) -> Result<Self> {
        self.with(self.builder().aggregate(group, aggregates))
    }

    /// Joins with `right` on equal columns.
    pub fn join(
        &self,
        right: &DataFrame,
        join_type: JoinType,
        left_cols: &[&str],
        right_cols: &[&str],
    ) -> Result<Self> {
        self.with(self.builder().join(
            right.plan.clone(),
            join_type,
            (left_cols.to_vec(), right_cols.to_vec()),
            None,
        ))
    }

    /// Joins with `right` on an arbitrary condition.
    pub fn join_on(&self, right: &DataFrame, join_type: JoinType, on: Vec<Expr>) -> Result<Self> {
        self.with(self.builder().join_on(right.plan.clone(), join_type, on))
    }

    /// Sorts by the given expressions (`col("x").sort(true, false)`).
    pub fn sort(&self, exprs: Vec<SortExpr>) -> Result<Self> {
        self.with(self.builder().sort(exprs))
    }

    /// Keeps at most `n` rows.
    pub fn limit(&self, n: usize) -> Result<Self> {
        self.with(self.builder().limit(0, Some(n)))
    }

    /// Removes duplicate rows.
    pub fn distinct(&self) -> Result<Self> {
        self.with(self.builder().distinct())
    }

    /// Rows of both (Spark's `union`, which keeps duplicates).
    pub fn union(&self, other: &DataFrame) -> Result<Self> {
        self.with(self.builder().union(other.plan.clone()))
    }

    /// Adds window-function columns (`row_number().partition_by(...).order_by(...)`).
    pub fn window(&self, window_exprs: Vec<Expr>) -> Result<Self> {
        self.with(self.builder().window(window_exprs))
    }

    /// The plan as it travels to the gateway.
    pub fn to_relation(&self) -> Result<Relation> {
        let bytes = logical_plan_to_bytes_with_extension_codec(
            &self.plan,
            &SparklingLogicalCodec::default(),
        )
        .map_err(|e| ClientError::Plan(format!("cannot encode plan: {}", e.strip_backtrace())))?;
        Ok(Relation {
            common: None,
            rel_type: Some(relation::RelType::Extension(logical_plan_any(
                bytes.to_vec(),
            ))),
        })
    }

    /// Runs the plan and returns all rows.
    pub async fn collect(&self) -> Result<Vec<RecordBatch>> {
        Ok(self
            .session
            .collect_relation(self.to_relation()?)
            .await?
            .batches)
    }

    /// Runs the plan as operation `operation_id`, which can be interrupted with
    /// [`SparkSession::interrupt_operation`].
    pub async fn collect_as(&self, operation_id: &str) -> Result<Vec<RecordBatch>> {
        Ok(self
            .session
            .collect_relation_as(self.to_relation()?, operation_id)
            .await?
            .batches)
    }

    /// Number of rows.
    pub async fn count(&self) -> Result<i64> {
        let counted = self.aggregate(vec![], vec![count(lit(1)).alias("count")])?;
        let batches = counted.collect().await?;
        let total = batches
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .map(|a| a.value(0))
            })
            .ok_or_else(|| ClientError::Protocol("count returned no rows".into()))?;
        Ok(total)
    }

    /// Prints the first 20 rows as a table.
    pub async fn show(&self) -> Result<()> {
        let batches = self.limit(20)?.collect().await?;
        println!("{}", arrow::util::pretty::pretty_format_batches(&batches)?);
        Ok(())
    }

    /// The server's explanation of how the plan runs.
    pub async fn explain(&self, extended: bool) -> Result<String> {
        self.session
            .explain_relation(self.to_relation()?, extended)
            .await
    }

    /// Writes this DataFrame into a table of `spark_catalog`:
    /// `df.write_to("ns.t").append()` or `.partitioned_by(&["days(ts)"])?.create()`.
    pub fn write_to(&self, table: &str) -> crate::writer::DataFrameWriterV2 {
        crate::writer::DataFrameWriterV2::new(self.clone(), table)
    }

    /// Registers the DataFrame as a temporary view of the session.
    pub async fn create_or_replace_temp_view(&self, name: &str) -> Result<()> {
        self.session
            .run_command(Command {
                command_type: Some(command::CommandType::CreateDataframeView(
                    CreateDataFrameViewCommand {
                        input: Some(self.to_relation()?),
                        name: name.to_string(),
                        is_global: false,
                        replace: true,
                    },
                )),
            })
            .await
    }
}

/// Total row count of batches.
pub fn num_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}
