//! Writes each task's output to shuffle files, uncompressed unless asked otherwise.
//!
//! The scheduler ends every stage's plan with one of Ballista's shuffle writers. Both
//! compress every file with LZ4 and have no setting to turn it off, and the sort-based
//! one (Ballista's default) buffers a task's whole output before slicing it per
//! partition and creates a spill directory in every task. [`StageEngine`] runs the
//! stage's plan under a [`StageWriter`] instead, which streams each output partition
//! into its own Arrow IPC file in Ballista's hash-shuffle layout,
//! `<job>/<stage>/<partition>/data-<task>.arrow` (`<job>/<stage>/<task>/data.arrow`
//! for a stage that does not repartition). Ballista's shuffle readers, its Flight
//! service and the scheduler use those files as they are: a reader on the same
//! executor opens them, other executors fetch their bytes over Flight.
//!
//! Compression is an executor setting ([`ShuffleCompression`]). It is off by default:
//! on one host, or over a network faster than LZ4 (about 0.5 GB/s per core), it costs
//! more CPU than the bytes it saves.
//!
//! The engine also gives every shuffle reader the executor's pool of Flight clients,
//! so a task's fetches reuse connections instead of opening one per partition.

use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::client_pool::BallistaClientPool;
use ballista_core::execution_plans::sort_shuffle::SortShuffleWriterExec;
use ballista_core::execution_plans::{ShuffleReaderExec, ShuffleWriterExec, create_shuffle_path};
use ballista_core::serde::protobuf::ShuffleWritePartition;
use ballista_executor::execution_engine::{ExecutionEngine, QueryStageExecutor};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::{
    self, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::repartition::BatchPartitioner;
use datafusion::physical_plan::{ExecutionPlan, Partitioning, displayable};
use datafusion::prelude::SessionConfig;
use futures::StreamExt;

/// Write buffer of each shuffle file.
const FILE_BUFFER_BYTES: usize = 256 * 1024;

/// How an executor compresses the shuffle files it writes. Readers decompress
/// whatever they find, so executors of one cluster may differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShuffleCompression {
    /// Plain Arrow IPC.
    #[default]
    None,
    /// LZ4 frames per buffer (Ballista's own choice).
    Lz4,
}

impl ShuffleCompression {
    fn ipc_options(self) -> Result<IpcWriteOptions> {
        let codec = match self {
            ShuffleCompression::None => None,
            ShuffleCompression::Lz4 => Some(CompressionType::LZ4_FRAME),
        };
        Ok(IpcWriteOptions::default().try_with_compression(codec)?)
    }
}

impl FromStr for ShuffleCompression {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(ShuffleCompression::None),
            "lz4" => Ok(ShuffleCompression::Lz4),
            other => Err(format!(
                "unknown shuffle compression {other:?}; expected none or lz4"
            )),
        }
    }
}

impl fmt::Display for ShuffleCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShuffleCompression::None => "none",
            ShuffleCompression::Lz4 => "lz4",
        })
    }
}

/// Turns the scheduler's stage plans into [`StageWriter`]s.
pub struct StageEngine {
    compression: ShuffleCompression,
    client_pool: Arc<dyn BallistaClientPool>,
}

impl StageEngine {
    /// An engine writing with `compression`; shuffle readers fetch through `client_pool`.
    pub fn new(compression: ShuffleCompression, client_pool: Arc<dyn BallistaClientPool>) -> Self {
        Self {
            compression,
            client_pool,
        }
    }
}

impl ExecutionEngine for StageEngine {
    fn create_query_stage_exec(
        &self,
        job_id: String,
        stage_id: usize,
        _partition_id: usize,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        _config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        let (input, partitioning) =
            if let Some(writer) = plan.as_any().downcast_ref::<ShuffleWriterExec>() {
                (
                    Arc::clone(plan.children()[0]),
                    writer.shuffle_output_partitioning().cloned(),
                )
            } else if let Some(writer) = plan.as_any().downcast_ref::<SortShuffleWriterExec>() {
                (
                    Arc::clone(plan.children()[0]),
                    Some(writer.shuffle_output_partitioning().clone()),
                )
            } else {
                return Err(DataFusionError::Internal(format!(
                    "a stage plan must start with a shuffle writer, got {}",
                    plan.name()
                )));
            };
        // Readers are planned on the scheduler; here they learn where this executor's
        // own files are and which connections to reuse for the rest.
        let input = input
            .transform(|node| {
                Ok(match node.as_any().downcast_ref::<ShuffleReaderExec>() {
                    Some(reader) => Transformed::yes(Arc::new(
                        reader
                            .with_work_dir(work_dir.to_string())
                            .with_client_pool(Arc::clone(&self.client_pool)),
                    )
                        as Arc<dyn ExecutionPlan>),
                    None => Transformed::no(node),
                })
            })?
            .data;
        Ok(Arc::new(StageWriter {
            job_id,
            stage_id,
            input,
            partitioning,
            work_dir: PathBuf::from(work_dir),
            compression: self.compression,
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }
}

/// Runs one stage's plan for a task and writes its output partitions to files.
#[derive(Debug)]
pub struct StageWriter {
    job_id: String,
    stage_id: usize,
    input: Arc<dyn ExecutionPlan>,
    /// How rows are split into output partitions; `None` keeps the task's partition.
    partitioning: Option<Partitioning>,
    work_dir: PathBuf,
    compression: ShuffleCompression,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Display for StageWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partitioning = match &self.partitioning {
            Some(p) => p.to_string(),
            None => "none".to_string(),
        };
        write!(
            f,
            "StageWriter: job={} stage={} partitioning={partitioning} compression={}\n{}",
            self.job_id,
            self.stage_id,
            self.compression,
            displayable(self.input.as_ref()).indent(false)
        )
    }
}

#[async_trait]
impl QueryStageExecutor for StageWriter {
    async fn execute_query_stage(
        &self,
        input_partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let metrics = WriteMetrics::new(input_partition, &self.metrics);
        let mut stream = self.input.execute(input_partition, context)?;
        let mut files = OutputFiles {
            job_id: &self.job_id,
            stage_id: self.stage_id,
            work_dir: &self.work_dir,
            input_partition,
            schema: stream.schema(),
            options: self.compression.ipc_options()?,
            files: Vec::new(),
        };
        match &self.partitioning {
            None => {
                // The task's partition is the output partition: one file, written
                // even when empty so the partition has a location.
                let mut file = files.create(input_partition, None)?;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    metrics.input_rows.add(batch.num_rows());
                    let _timer = metrics.write_time.timer();
                    file.write(&batch)?;
                    metrics.output_rows.add(batch.num_rows());
                }
                let _timer = metrics.write_time.timer();
                Ok(vec![file.finish(input_partition, None)?])
            }
            Some(partitioning) => {
                let partitions = partitioning.partition_count();
                let mut partitioner = BatchPartitioner::try_new(
                    partitioning.clone(),
                    metrics.repart_time.clone(),
                    input_partition,
                    self.input
                        .properties()
                        .output_partitioning()
                        .partition_count(),
                )?;
                files.files = (0..partitions).map(|_| None).collect();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    metrics.input_rows.add(batch.num_rows());
                    partitioner.partition(batch, |partition, part| {
                        let _timer = metrics.write_time.timer();
                        files.write(partition, &part)?;
                        metrics.output_rows.add(part.num_rows());
                        Ok(())
                    })?;
                }
                let _timer = metrics.write_time.timer();
                files.finish()
            }
        }
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        let mut all = vec![self.metrics.clone_inner()];
        all.extend(ballista_core::utils::collect_plan_metrics(
            self.input.as_ref(),
        ));
        all
    }
}

/// The metrics Ballista's writers report, under the same names.
struct WriteMetrics {
    write_time: metrics::Time,
    repart_time: metrics::Time,
    input_rows: metrics::Count,
    output_rows: metrics::Count,
}

impl WriteMetrics {
    fn new(partition: usize, metrics: &ExecutionPlanMetricsSet) -> Self {
        Self {
            write_time: MetricBuilder::new(metrics).subset_time("write_time", partition),
            repart_time: MetricBuilder::new(metrics).subset_time("repart_time", partition),
            input_rows: MetricBuilder::new(metrics).counter("input_rows", partition),
            output_rows: MetricBuilder::new(metrics).output_rows(partition),
        }
    }
}

/// A task's output files, one per output partition, each created with its first batch.
struct OutputFiles<'a> {
    job_id: &'a str,
    stage_id: usize,
    work_dir: &'a PathBuf,
    input_partition: usize,
    schema: SchemaRef,
    options: IpcWriteOptions,
    files: Vec<Option<OutputFile>>,
}

impl OutputFiles<'_> {
    /// The file of output partition `partition`; `file_id` names this task's file
    /// among the partition's files (`None` when the task writes the partition alone).
    fn create(&self, partition: usize, file_id: Option<u64>) -> Result<OutputFile> {
        let path = create_shuffle_path(
            self.work_dir,
            self.job_id,
            self.stage_id,
            partition,
            file_id,
            false,
        )?;
        OutputFile::create(path, &self.schema, &self.options)
    }

    fn write(&mut self, partition: usize, batch: &RecordBatch) -> Result<()> {
        let file = match self.files[partition] {
            Some(ref mut file) => file,
            None => {
                let created = self.create(partition, Some(self.input_partition as u64))?;
                self.files[partition].insert(created)
            }
        };
        file.write(batch)
    }

    /// Finishes every file written and describes them for the scheduler.
    fn finish(self) -> Result<Vec<ShuffleWritePartition>> {
        let file_id = Some(self.input_partition as u64);
        self.files
            .into_iter()
            .enumerate()
            .filter_map(|(partition, file)| file.map(|f| f.finish(partition, file_id)))
            .collect()
    }
}

/// One Arrow IPC stream file being written.
struct OutputFile {
    path: PathBuf,
    writer: StreamWriter<BufWriter<File>>,
    batches: u64,
    rows: u64,
}

impl OutputFile {
    fn create(path: PathBuf, schema: &SchemaRef, options: &IpcWriteOptions) -> Result<Self> {
        let io_error = |what: &str, e: std::io::Error| {
            DataFusionError::Execution(format!("cannot {what} shuffle file {path:?}: {e}"))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("create the directory of", e))?;
        }
        let file = File::create(&path).map_err(|e| io_error("create", e))?;
        let writer = StreamWriter::try_new_with_options(
            BufWriter::with_capacity(FILE_BUFFER_BYTES, file),
            schema,
            options.clone(),
        )?;
        Ok(Self {
            path,
            writer,
            batches: 0,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch)?;
        self.batches += 1;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(self, partition: usize, file_id: Option<u64>) -> Result<ShuffleWritePartition> {
        let io_error = |e: std::io::Error| {
            DataFusionError::Execution(format!("cannot write shuffle file {:?}: {e}", self.path))
        };
        let file = self
            .writer
            .into_inner()?
            .into_inner()
            .map_err(|e| io_error(e.into_error()))?;
        let num_bytes = file.metadata().map_err(io_error)?.len();
        Ok(ShuffleWritePartition {
            partition_id: partition as u64,
            num_batches: self.batches,
            num_rows: self.rows,
            num_bytes,
            file_id,
            is_sort_shuffle: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_pool::FlightClientPool;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::ipc::reader::StreamReader;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_expr::expressions::col;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// Two input partitions of (id, label) rows; every id appears in both.
    fn input() -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("label", DataType::Utf8, false),
        ]));
        let batch = |ids: Vec<i64>| {
            let labels: Vec<String> = ids.iter().map(|i| format!("row {}", i % 3)).collect();
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(labels)),
                ],
            )
            .unwrap()
        };
        let partitions = vec![
            vec![batch((0..500).collect()), batch((500..1000).collect())],
            vec![batch((0..1000).rev().collect())],
        ];
        MemorySourceConfig::try_new_exec(&partitions, schema, None).unwrap()
    }

    fn stage(
        work_dir: &std::path::Path,
        partitioning: Option<Partitioning>,
        compression: ShuffleCompression,
    ) -> Arc<dyn QueryStageExecutor> {
        let plan = ShuffleWriterExec::try_new(
            "job".to_string(),
            1,
            input(),
            "scheduler's work dir".to_string(),
            partitioning,
        )
        .unwrap();
        let engine = StageEngine::new(
            compression,
            Arc::new(FlightClientPool::new(Duration::from_secs(1))),
        );
        engine
            .create_query_stage_exec(
                "job".to_string(),
                1,
                0,
                Arc::new(plan),
                work_dir.to_str().unwrap(),
                &SessionConfig::new(),
            )
            .unwrap()
    }

    /// The ids in the file a written partition names.
    fn ids_in(work_dir: &std::path::Path, written: &ShuffleWritePartition) -> Vec<i64> {
        let path = create_shuffle_path(
            work_dir,
            "job",
            1,
            written.partition_id as usize,
            written.file_id,
            false,
        )
        .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            written.num_bytes,
            "{path:?}"
        );
        let reader = StreamReader::try_new(File::open(&path).unwrap(), None).unwrap();
        let mut ids = Vec::new();
        let mut batches = 0;
        for batch in reader {
            let batch = batch.unwrap();
            batches += 1;
            let column = batch
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            ids.extend(column.values().iter().copied());
        }
        assert_eq!(batches, written.num_batches);
        assert_eq!(ids.len() as u64, written.num_rows);
        ids
    }

    #[tokio::test]
    async fn hash_partitions_land_in_one_file_per_partition_and_task() {
        let dir = tempfile::tempdir().unwrap();
        let partitioning = Partitioning::Hash(vec![col("id", &input().schema()).unwrap()], 3);
        let stage = stage(dir.path(), Some(partitioning), ShuffleCompression::None);
        // partition of each id, as seen in each task's files
        let mut partition_of: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for task in 0..2 {
            let written = stage
                .execute_query_stage(task, Arc::new(TaskContext::default()))
                .await
                .unwrap();
            assert_eq!(written.len(), 3, "every partition got rows");
            for w in &written {
                assert_eq!(w.file_id, Some(task as u64));
                assert!(!w.is_sort_shuffle);
                for id in ids_in(dir.path(), w) {
                    partition_of.entry(id).or_default().push(w.partition_id);
                }
            }
        }
        assert_eq!(partition_of.len(), 1000);
        for (id, partitions) in partition_of {
            assert_eq!(partitions.len(), 2, "id {id} once per task");
            assert_eq!(partitions[0], partitions[1], "id {id} in one partition");
        }
        let metrics = &stage.collect_plan_metrics()[0];
        assert_eq!(metrics.output_rows(), Some(2000));
    }

    #[tokio::test]
    async fn an_unpartitioned_stage_writes_one_file_even_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let stage = stage(dir.path(), None, ShuffleCompression::None);
        let written = stage
            .execute_query_stage(1, Arc::new(TaskContext::default()))
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!((written[0].partition_id, written[0].file_id), (1, None));
        assert_eq!(ids_in(dir.path(), &written[0]).len(), 1000);

        let schema = input().schema();
        let empty = MemorySourceConfig::try_new_exec(&[vec![]], schema, None).unwrap();
        let plan = ShuffleWriterExec::try_new("job".into(), 1, empty, String::new(), None).unwrap();
        let engine = StageEngine::new(
            ShuffleCompression::None,
            Arc::new(FlightClientPool::new(Duration::ZERO)),
        );
        let stage = engine
            .create_query_stage_exec(
                "job".into(),
                1,
                0,
                Arc::new(plan),
                dir.path().to_str().unwrap(),
                &SessionConfig::new(),
            )
            .unwrap();
        let written = stage
            .execute_query_stage(0, Arc::new(TaskContext::default()))
            .await
            .unwrap();
        assert_eq!(ids_in(dir.path(), &written[0]), Vec::<i64>::new());
    }

    #[tokio::test]
    async fn lz4_files_hold_the_same_rows_in_fewer_bytes() {
        let plain = tempfile::tempdir().unwrap();
        let lz4 = tempfile::tempdir().unwrap();
        let mut sizes = Vec::new();
        for (dir, compression) in [
            (plain.path(), ShuffleCompression::None),
            (lz4.path(), ShuffleCompression::Lz4),
        ] {
            let written = stage(dir, None, compression)
                .execute_query_stage(0, Arc::new(TaskContext::default()))
                .await
                .unwrap();
            let mut ids = ids_in(dir, &written[0]);
            ids.sort();
            assert_eq!(ids, (0..1000).collect::<Vec<_>>());
            sizes.push(written[0].num_bytes);
        }
        assert!(
            sizes[1] < sizes[0],
            "lz4 {} bytes, plain {}",
            sizes[1],
            sizes[0]
        );
    }

    #[test]
    fn compression_names() {
        assert_eq!("LZ4".parse(), Ok(ShuffleCompression::Lz4));
        assert_eq!("none".parse(), Ok(ShuffleCompression::None));
        let err = "zstd".parse::<ShuffleCompression>().unwrap_err();
        assert!(err.contains("none or lz4"), "{err}");
    }

    #[test]
    fn a_plan_without_a_shuffle_writer_is_refused() {
        let engine = StageEngine::new(
            ShuffleCompression::None,
            Arc::new(FlightClientPool::new(Duration::ZERO)),
        );
        let err = engine
            .create_query_stage_exec("job".into(), 1, 0, input(), "/tmp", &SessionConfig::new())
            .unwrap_err();
        assert!(
            err.to_string().contains("must start with a shuffle writer"),
            "{err}"
        );
    }
}
