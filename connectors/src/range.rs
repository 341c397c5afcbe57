//! `range(...)` and `generate_series(...)` (and the SDK's `spark.range`) as a table
//! whose scan is split over the executors: [`RangeExec`] produces one contiguous slice
//! of the series per partition and travels in plans through our physical codec.
//! (DataFusion's own series node loses its projection in datafusion-proto 53, so it
//! could only run in the gateway.)

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use serde::{Deserialize, Serialize};

/// The column of `range(...)`, as Spark names it.
pub const RANGE_COLUMN: &str = "id";
/// The column of `generate_series(...)`, as DataFusion (and PostgreSQL) name it.
pub const SERIES_COLUMN: &str = "value";

/// The contiguous share `[from, to)` of `0..len` that partition `partition` of
/// `parts` produces: every index exactly once, shares differing by at most one.
pub fn partition_slice(len: u64, partition: usize, parts: usize) -> (u64, u64) {
    let (len, parts) = (len as u128, parts.max(1) as u128);
    let from = len * partition as u128 / parts;
    let to = len * (partition as u128 + 1) / parts;
    (from as u64, to as u64)
}

/// Rows per batch.
const BATCH_ROWS: i64 = 8192;

/// An arithmetic series `start, start + step, ...` up to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// First value.
    pub start: i64,
    /// End, exclusive.
    pub end: i64,
    /// Increment, non-zero.
    pub step: i64,
}

impl Series {
    /// The series, checked.
    pub fn new(start: i64, end: i64, step: i64) -> Result<Self> {
        if step == 0 {
            return plan_err!("the step of a range must not be 0");
        }
        Ok(Self { start, end, step })
    }

    /// Number of values.
    pub fn len(&self) -> i64 {
        let (start, end, step) = (self.start as i128, self.end as i128, self.step as i128);
        let n = if step > 0 {
            (end - start + step - 1) / step
        } else {
            (start - end - step - 1) / -step
        };
        n.clamp(0, i64::MAX as i128) as i64
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value number `i`.
    fn value(&self, i: i64) -> i64 {
        self.start.wrapping_add(self.step.wrapping_mul(i))
    }
}

fn schema(column: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        column,
        DataType::Int64,
        false,
    )]))
}

/// `range(end)`, `range(start, end[, step])` (end exclusive) and `generate_series`
/// (end inclusive), as DataFusion names them.
#[derive(Debug)]
pub struct RangeFunction {
    /// `generate_series` includes its end.
    pub inclusive: bool,
}

impl TableFunctionImpl for RangeFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let name = if self.inclusive {
            "generate_series"
        } else {
            "range"
        };
        let ints = args
            .iter()
            .map(|a| match a {
                Expr::Literal(v, _) => match v.cast_to(&DataType::Int64) {
                    Ok(ScalarValue::Int64(Some(n))) => Ok(n),
                    _ => plan_err!("{name}() takes integers, got {v}"),
                },
                other => plan_err!("{name}() takes integer literals, got {other}"),
            })
            .collect::<Result<Vec<_>>>()?;
        let (start, end, step) = match ints.as_slice() {
            [end] => (0, *end, 1),
            [start, end] => (*start, *end, 1),
            [start, end, step] => (*start, *end, *step),
            _ => return plan_err!("{name}() takes 1 to 3 arguments"),
        };
        let end = if self.inclusive {
            if step > 0 {
                end.saturating_add(1)
            } else {
                end.saturating_sub(1)
            }
        } else {
            end
        };
        Ok(Arc::new(RangeTable {
            series: Series::new(start, end, step)?,
            column: if self.inclusive {
                SERIES_COLUMN
            } else {
                RANGE_COLUMN
            }
            .to_string(),
        }))
    }
}

/// A series as a table with one column (`id` for `range`, `value` for
/// `generate_series`).
#[derive(Debug, Clone)]
pub struct RangeTable {
    /// The values.
    pub series: Series,
    /// The column's name.
    pub column: String,
}

#[async_trait]
impl TableProvider for RangeTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        schema(&self.column)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut series = self.series;
        if let Some(limit) = limit
            && (limit as i64) < series.len()
        {
            series.end = series.value(limit as i64);
        }
        let project = projection.is_none_or(|p| !p.is_empty());
        let partitions = (state.config().target_partitions().max(1) as i64)
            .min((series.len().saturating_add(BATCH_ROWS - 1) / BATCH_ROWS).max(1))
            as usize;
        Ok(Arc::new(RangeExec::new(
            series,
            partitions,
            project.then(|| self.column.clone()),
        )))
    }
}

/// Produces a series, one contiguous slice per partition.
#[derive(Debug)]
pub struct RangeExec {
    series: Series,
    partitions: usize,
    column: Option<String>,
    properties: Arc<PlanProperties>,
}

/// What [`RangeExec`] is, for the codec.
#[derive(Debug, Serialize, Deserialize)]
pub struct RangeExecSpec {
    /// The values.
    pub series: Series,
    /// Output partitions.
    pub partitions: usize,
    /// The column produced (`None`: only row counts).
    pub column: Option<String>,
}

impl RangeExec {
    /// `series` split over `partitions` as `column`; without a column, batches carry
    /// only row counts.
    pub fn new(series: Series, partitions: usize, column: Option<String>) -> Self {
        let schema = match &column {
            Some(name) => schema(name),
            None => Arc::new(Schema::empty()),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions.max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            series,
            partitions: partitions.max(1),
            column,
            properties: Arc::new(properties),
        }
    }

    /// The node as the codec stores it.
    pub fn spec(&self) -> RangeExecSpec {
        RangeExecSpec {
            series: self.series,
            partitions: self.partitions,
            column: self.column.clone(),
        }
    }

    /// The node from the codec's form.
    pub fn from_spec(spec: RangeExecSpec) -> Self {
        Self::new(spec.series, spec.partitions, spec.column)
    }
}

impl DisplayAs for RangeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RangeExec: start={}, end={}, step={}, partitions={}",
            self.series.start, self.series.end, self.series.step, self.partitions
        )
    }
}

impl ExecutionPlan for RangeExec {
    fn name(&self) -> &str {
        "RangeExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return exec_err!("RangeExec has no inputs");
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let series = self.series;
        let (from, to) = partition_slice(series.len() as u64, partition, self.partitions);
        let (from, to) = (from as i64, to as i64);
        let schema = self.properties.eq_properties.schema().clone();
        let project = self.column.is_some();
        let out_schema = Arc::clone(&schema);
        let batches = (from..to).step_by(BATCH_ROWS as usize).map(move |first| {
            let last = (first + BATCH_ROWS).min(to);
            if project {
                let values = Int64Array::from_iter_values((first..last).map(|i| series.value(i)));
                Ok(RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![Arc::new(values)],
                )?)
            } else {
                let options =
                    RecordBatchOptions::new().with_row_count(Some((last - first) as usize));
                Ok(RecordBatch::try_new_with_options(
                    Arc::clone(&schema),
                    vec![],
                    &options,
                )?)
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            out_schema,
            futures::stream::iter(batches),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_lengths() {
        assert_eq!(Series::new(0, 10, 1).unwrap().len(), 10);
        assert_eq!(Series::new(0, 10, 3).unwrap().len(), 4);
        assert_eq!(Series::new(10, 0, -3).unwrap().len(), 4);
        assert_eq!(Series::new(5, 5, 1).unwrap().len(), 0);
        assert_eq!(Series::new(5, 0, 1).unwrap().len(), 0);
        assert_eq!(Series::new(i64::MIN, i64::MAX, 1).unwrap().len(), i64::MAX);
        assert!(Series::new(0, 1, 0).is_err());
    }

    #[tokio::test]
    async fn partitions_cover_the_series_once() {
        let exec = RangeExec::new(Series::new(3, 30_000, 7).unwrap(), 3, Some("id".into()));
        let ctx = Arc::new(TaskContext::default());
        let mut all = Vec::new();
        for p in 0..3 {
            let batches = datafusion::physical_plan::common::collect(
                exec.execute(p, Arc::clone(&ctx)).unwrap(),
            )
            .await
            .unwrap();
            for b in batches {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                all.extend(a.values().iter().copied());
            }
        }
        let expected: Vec<i64> = (3..30_000).step_by(7).collect();
        assert_eq!(all, expected);
    }
}
