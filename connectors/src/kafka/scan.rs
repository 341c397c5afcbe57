//! `read_kafka(...)` as a table: the gateway resolves the offset ranges when the scan
//! is planned, and [`KafkaScanExec`] reads one range per task on the executors (it
//! travels in plans through our physical codec).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::datasource::TableType;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::offsets::{
    OffsetRange, Watermarks, batch_ranges, consumer_config, data_loss, split_ranges, watermarks,
};
use super::options::KafkaOptions;
use super::records::{RecordsBuilder, record_schema};

/// Records per batch.
const BATCH_ROWS: usize = 8192;

/// `read_kafka(name, value, ...)`: the SQL planner hands table functions positional
/// arguments, so `read_kafka(subscribe => 't')` reaches it as `'subscribe', 't'` (the
/// gateway rewrites named arguments into pairs).
#[derive(Debug, Default)]
pub struct ReadKafkaFunction;

impl TableFunctionImpl for ReadKafkaFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let pairs = crate::option_args::option_pairs("read_kafka", args)?;
        let options = KafkaOptions::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        Ok(Arc::new(KafkaTable::new(options)))
    }
}

/// A bounded read of Kafka topics: offsets resolved when the scan is planned, or
/// fixed in advance (a streaming query's micro-batch).
#[derive(Debug, Clone)]
pub struct KafkaTable {
    options: KafkaOptions,
    schema: SchemaRef,
    ranges: Option<Vec<OffsetRange>>,
}

impl KafkaTable {
    /// The table `options` describe.
    pub fn new(options: KafkaOptions) -> Self {
        let schema = record_schema(options.include_headers);
        Self {
            options,
            schema,
            ranges: None,
        }
    }

    /// Exactly the records of `ranges`, read with `options`.
    pub fn with_ranges(options: KafkaOptions, ranges: Vec<OffsetRange>) -> Self {
        Self {
            ranges: Some(ranges),
            ..Self::new(options)
        }
    }

    /// Its options.
    pub fn options(&self) -> &KafkaOptions {
        &self.options
    }
}

#[async_trait]
impl TableProvider for KafkaTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let options = self.options.clone();
        let fixed = self.ranges.clone();
        let ranges = tokio::task::spawn_blocking(move || -> Result<Vec<OffsetRange>> {
            if let Some(ranges) = fixed {
                return Ok(split_ranges(ranges, options.min_partitions));
            }
            let partitions = watermarks(&options)?;
            let ranges = batch_ranges(
                &partitions,
                options.starting.as_ref(),
                &options.ending,
                options.fail_on_data_loss,
            )?;
            Ok(split_ranges(ranges, options.min_partitions))
        })
        .await
        .map_err(|e| DataFusionError::Execution(format!("planning a Kafka read: {e}")))??;
        let spec = KafkaScanSpec {
            client: self.options.client.clone().into_iter().collect(),
            ranges,
            include_headers: self.options.include_headers,
            fail_on_data_loss: self.options.fail_on_data_loss,
            poll_timeout_ms: self.options.poll_timeout_ms,
            projection: projection.cloned(),
            // With a LIMIT (and no filter), no task needs more records than that.
            // Offsets are not records (transaction markers, compaction), so tasks
            // count records rather than shortening their ranges.
            limit,
        };
        if spec.ranges.is_empty() {
            return Ok(Arc::new(EmptyExec::new(spec.output_schema()?)));
        }
        Ok(Arc::new(KafkaScanExec::new(spec)?))
    }
}

/// What a [`KafkaScanExec`] reads, as the codec ships it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KafkaScanSpec {
    /// librdkafka settings (`bootstrap.servers` and the user's `kafka.*` options).
    pub client: Vec<(String, String)>,
    /// One range per task.
    pub ranges: Vec<OffsetRange>,
    /// Produce the `headers` column.
    pub include_headers: bool,
    /// Fail when offsets are gone from the log.
    pub fail_on_data_loss: bool,
    /// How long to wait for records the range says exist.
    pub poll_timeout_ms: u64,
    /// Columns to produce (all if `None`).
    pub projection: Option<Vec<usize>>,
    /// Each task stops after this many records.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl KafkaScanSpec {
    fn output_schema(&self) -> Result<SchemaRef> {
        let schema = record_schema(self.include_headers);
        Ok(match &self.projection {
            Some(p) => Arc::new(schema.project(p)?),
            None => schema,
        })
    }
}

/// Reads Kafka offset ranges, one per partition of the node.
#[derive(Debug)]
pub struct KafkaScanExec {
    spec: KafkaScanSpec,
    properties: Arc<PlanProperties>,
}

impl KafkaScanExec {
    /// The node for `spec`.
    pub fn new(spec: KafkaScanSpec) -> Result<Self> {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(spec.output_schema()?),
            Partitioning::UnknownPartitioning(spec.ranges.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            spec,
            properties: Arc::new(properties),
        })
    }

    /// What it reads.
    pub fn spec(&self) -> &KafkaScanSpec {
        &self.spec
    }
}

impl DisplayAs for KafkaScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let offsets: i64 = self.spec.ranges.iter().map(OffsetRange::len).sum();
        write!(
            f,
            "KafkaScanExec: ranges={}, offsets={offsets}",
            self.spec.ranges.len()
        )?;
        if let Some(limit) = self.spec.limit {
            write!(f, ", limit={limit}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for KafkaScanExec {
    fn name(&self) -> &str {
        "KafkaScanExec"
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
            return exec_err!("KafkaScanExec has no inputs");
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(range) = self.spec.ranges.get(partition).cloned() else {
            return exec_err!("KafkaScanExec has no partition {partition}");
        };
        let spec = self.spec.clone();
        let schema = spec.output_schema()?;
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            // A panic must fail the query, not end the stream as if the range were done.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_range(&spec, &range, &tx)
            }))
            .unwrap_or_else(|_| {
                exec_err!(
                    "reading {}-{} failed unexpectedly",
                    range.topic,
                    range.partition
                )
            });
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

type Sender = tokio::sync::mpsc::Sender<Result<arrow::array::RecordBatch>>;

/// Reads `range` with a consumer of its own, sending batches until the range is done
/// or the receiver is gone.
fn read_range(spec: &KafkaScanSpec, range: &OffsetRange, tx: &Sender) -> Result<()> {
    let where_ = format!("{}-{}", range.topic, range.partition);
    let error = |what: &str, e: KafkaError| {
        DataFusionError::Execution(format!("Kafka {what} for {where_}: {e}"))
    };
    let client = spec.client.iter().cloned().collect();
    let consumer: BaseConsumer = consumer_config(&client)
        .create()
        .map_err(|e| error("client", e))?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&range.topic, range.partition, Offset::Offset(range.start))
        .map_err(|e| error("assignment", e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| error("assignment", e))?;
    let send = |batch: arrow::array::RecordBatch| -> bool {
        let batch = match &spec.projection {
            Some(p) => batch.project(p).map_err(DataFusionError::from),
            None => Ok(batch),
        };
        tx.blocking_send(batch).is_ok()
    };
    let timeout = Duration::from_millis(spec.poll_timeout_ms);
    let mut builder = RecordsBuilder::new(spec.include_headers);
    let mut next = range.start;
    let mut last_progress = Instant::now();
    let mut read = 0usize;
    while next < range.end {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                last_progress = Instant::now();
                let offset = message.offset();
                if offset < next {
                    continue;
                }
                if offset >= range.end {
                    break;
                }
                if next == range.start && offset > next && spec.fail_on_data_loss {
                    let (low, _) = consumer
                        .fetch_watermarks(&range.topic, range.partition, timeout)
                        .map_err(|e| error("offsets", e))?;
                    if low > range.start {
                        return Err(data_loss(
                            &Watermarks {
                                topic: range.topic.clone(),
                                partition: range.partition,
                                low,
                                high: range.end,
                            },
                            range.start,
                        ));
                    }
                }
                builder.append(&message);
                next = offset + 1;
                read += 1;
                if spec.limit.is_some_and(|limit| read >= limit) {
                    break;
                }
                if builder.len() >= BATCH_ROWS && !send(builder.finish()?) {
                    return Ok(());
                }
            }
            // The log ends before the range does: the offsets left were transaction
            // markers or compacted away.
            Some(Err(KafkaError::PartitionEOF(_))) => break,
            Some(Err(e)) => return Err(error("read", e)),
            None => {
                if tx.is_closed() {
                    return Ok(());
                }
                if last_progress.elapsed() > timeout {
                    return exec_err!(
                        "timed out after {} ms waiting for offset {next} of {where_} \
                         (reading up to {}); is the broker up? (kafkaConsumer.pollTimeoutMs)",
                        spec.poll_timeout_ms,
                        range.end
                    );
                }
            }
        }
    }
    if !builder.is_empty() {
        send(builder.finish()?);
    }
    Ok(())
}
