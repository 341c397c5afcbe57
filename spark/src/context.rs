//! What translating a plan needs from a session, implemented by the caller: SQL
//! text through the engine's one SQL entry point, tables from the session's
//! catalogs, files, ranges and the session's state (configuration, functions).

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use crate::error::SparkError;

/// A session, as plan translation sees it.
#[async_trait]
pub trait PlanContext: Send + Sync {
    /// The caller's error; translation errors and DataFusion's convert into it.
    type Error: From<SparkError> + From<DataFusionError> + Send;

    /// The session's state: configuration, functions, catalogs.
    fn state(&self) -> SessionState;

    /// The plan of one SQL statement (DDL runs when the plan is executed, as the
    /// engine decides).
    async fn sql(&self, query: &str) -> Result<LogicalPlan, Self::Error>;

    /// A table or view by its (possibly qualified) name.
    async fn table(&self, name: &str) -> Result<LogicalPlan, Self::Error>;

    /// Files of a format (`parquet`, `csv`, `json`, `iceberg` ...) with Spark's
    /// reader options, and the schema the reader was given, if any.
    async fn read(
        &self,
        format: &str,
        paths: &[String],
        options: &BTreeMap<String, String>,
        schema: Option<SchemaRef>,
    ) -> Result<LogicalPlan, Self::Error>;

    /// `spark.range`: `start` to `end` (exclusive) by `step`, column `id`.
    async fn range(&self, start: i64, end: i64, step: i64) -> Result<LogicalPlan, Self::Error>;

    /// The rows of a small plan the translation itself needs (the distinct values a
    /// `pivot()` without values turns into columns), as Spark runs a job for them.
    async fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, Self::Error>;

    /// The names of the session's temporary views.
    fn temp_views(&self) -> Vec<String>;

    /// Registers (or replaces) a temporary view of the session over `plan`.
    async fn register_temp_view(&self, name: &str, plan: LogicalPlan) -> Result<(), Self::Error>;

    /// Drops a temporary view of the session; whether there was one.
    async fn drop_temp_view(&self, name: &str) -> Result<bool, Self::Error>;

    /// Drops a global temporary view (`global_temp.name`); whether there was one.
    async fn drop_global_temp_view(&self, name: &str) -> Result<bool, Self::Error>;

    /// A relation the client sent as a protocol extension.
    async fn extension(&self, type_url: &str, value: &[u8]) -> Result<LogicalPlan, Self::Error>;
}
