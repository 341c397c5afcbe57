//! The distributed half of an Iceberg write: [`IcebergWriteExec`] runs on the
//! executors, one task per input partition, writing zstd Parquet data files under the
//! table's data location (one file set per partition value) and returning each file's
//! Iceberg `DataFile` metadata as a JSON row. It commits nothing: the gateway collects
//! the rows of a successful job and commits them as one snapshot.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema as ArrowSchema, SchemaRef};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;
use iceberg::arrow::{FieldMatchMode, RecordBatchPartitionSplitter, schema_to_arrow_schema};
use iceberg::spec::{
    DataFile, DataFileFormat, FormatVersion, PartitionSpec, Schema, serialize_data_file_to_json,
};
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::partitioning::unpartitioned_writer::UnpartitionedWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::table::iceberg_error;

/// Name of the single output column: one Iceberg `DataFile` as JSON per row.
pub const DATA_FILE_COLUMN: &str = "data_file";

/// Data files roll over at this size.
const TARGET_FILE_SIZE: usize = 512 * 1024 * 1024;

/// Everything an executor needs to write data files for one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteSpec {
    /// Where data files go (`<table location>/data`).
    pub data_location: String,
    /// The table schema the files are written with.
    pub schema: Schema,
    /// The partition spec files are split by.
    pub partition_spec: PartitionSpec,
    /// The table's format version (for the DataFile JSON).
    pub format_version: FormatVersion,
    /// Unique per write; every file name starts with it, so the files of a write (and
    /// of its failed attempts) can be found and removed.
    pub write_id: String,
    /// How to reach the data location (Iceberg `s3.*` properties); the executor's own
    /// AWS settings fill in the rest.
    #[serde(default)]
    pub storage_properties: HashMap<String, String>,
}

impl WriteSpec {
    /// The Arrow schema (with Iceberg field ids) batches are written with.
    pub fn arrow_schema(&self) -> Result<SchemaRef> {
        Ok(Arc::new(
            schema_to_arrow_schema(&self.schema).map_err(iceberg_error)?,
        ))
    }
}

/// The output schema of [`IcebergWriteExec`].
pub fn write_output_schema() -> SchemaRef {
    Arc::new(ArrowSchema::new(vec![Field::new(
        DATA_FILE_COLUMN,
        DataType::Utf8,
        false,
    )]))
}

/// Writes its input's partitions as Iceberg data files; outputs their metadata.
#[derive(Debug)]
pub struct IcebergWriteExec {
    input: Arc<dyn ExecutionPlan>,
    spec: Arc<WriteSpec>,
    properties: Arc<PlanProperties>,
}

impl IcebergWriteExec {
    /// Writes `input` as described by `spec`.
    pub fn new(input: Arc<dyn ExecutionPlan>, spec: WriteSpec) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(write_output_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            input,
            spec: Arc::new(spec),
            properties: Arc::new(properties),
        }
    }

    /// What this node writes.
    pub fn spec(&self) -> &WriteSpec {
        &self.spec
    }

    /// The plan whose rows are written.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl DisplayAs for IcebergWriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "IcebergWriteExec: location={}, write_id={}",
            self.spec.data_location, self.spec.write_id
        )
    }
}

impl ExecutionPlan for IcebergWriteExec {
    fn name(&self) -> &str {
        "IcebergWriteExec"
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match children.as_slice() {
            [input] => Ok(Arc::new(Self::new(Arc::clone(input), (*self.spec).clone()))),
            _ => exec_err!("IcebergWriteExec takes one input"),
        }
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let spec = Arc::clone(&self.spec);
        // A task attempt gets its own file names: a retried task never overwrites a
        // file another attempt may still be writing.
        let prefix = format!(
            "{}-{partition:05}-{}",
            spec.write_id,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let output = futures::stream::once(async move {
            let files = write_files(&spec, &prefix, input).await?;
            let partition_type = spec
                .partition_spec
                .partition_type(&spec.schema)
                .map_err(iceberg_error)?;
            let json: Vec<String> = files
                .into_iter()
                .map(|f| serialize_data_file_to_json(f, &partition_type, spec.format_version))
                .collect::<iceberg::Result<_>>()
                .map_err(iceberg_error)?;
            let column: ArrayRef = Arc::new(StringArray::from(json));
            Ok(RecordBatch::try_new(write_output_schema(), vec![column])?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            write_output_schema(),
            output,
        )))
    }
}

/// Writes one input stream; returns the files written.
async fn write_files(
    spec: &WriteSpec,
    prefix: &str,
    mut input: SendableRecordBatchStream,
) -> Result<Vec<DataFile>> {
    let arrow_schema = spec.arrow_schema()?;
    let schema = Arc::new(spec.schema.clone());
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3)
                .map_err(|e| DataFusionError::Internal(format!("zstd level: {e}")))?,
        ))
        .build();
    let parquet = ParquetWriterBuilder::new(properties, Arc::clone(&schema))
        .with_match_mode(FieldMatchMode::Name);
    let rolling = RollingFileWriterBuilder::new(
        parquet,
        TARGET_FILE_SIZE,
        sparkling_storage::file_io(spec.storage_properties.clone()),
        DefaultLocationGenerator::with_data_location(spec.data_location.clone()),
        DefaultFileNameGenerator::new(prefix.to_string(), None, DataFileFormat::Parquet),
    );
    let builder = DataFileWriterBuilder::new(rolling);
    if spec.partition_spec.is_unpartitioned() {
        let mut writer = UnpartitionedWriter::new(builder);
        while let Some(batch) = input.next().await {
            let batch = conform(batch?, &arrow_schema)?;
            writer.write(batch).await.map_err(iceberg_error)?;
        }
        writer.close().await.map_err(iceberg_error)
    } else {
        let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(
            Arc::clone(&schema),
            Arc::new(spec.partition_spec.clone()),
        )
        .map_err(iceberg_error)?;
        let mut writer = FanoutWriter::new(builder);
        while let Some(batch) = input.next().await {
            let batch = conform(batch?, &arrow_schema)?;
            for (key, part) in splitter.split(&batch).map_err(iceberg_error)? {
                writer.write(key, part).await.map_err(iceberg_error)?;
            }
        }
        writer.close().await.map_err(iceberg_error)
    }
}

/// A batch in the table's Arrow schema: same columns in the same order, cast where the
/// engine's type differs (e.g. nanosecond timestamps), NOT NULL columns checked.
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return exec_err!(
            "the rows have {} columns but the table has {}",
            batch.num_columns(),
            schema.fields().len()
        );
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if !field.is_nullable() && column.null_count() > 0 {
                return exec_err!("column {} is NOT NULL but a row has no value", field.name());
            }
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else {
                Ok(arrow::compute::cast(column, field.data_type())?)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
