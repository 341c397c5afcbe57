//! Iceberg metadata tables (`<table>.snapshots`, `<table>.files`) and snapshot time
//! travel, as the table functions the gateway rewrites Spark's syntax into:
//! `sparkling_metadata_table('ns.t', 'snapshots')` and
//! `sparkling_table_as_of('ns.t', 'version' | 'timestamp', value)`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, MapBuilder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;
use iceberg::table::Table;

use super::catalog::{IcebergCatalog, block_on};
use super::table::{IcebergTable, iceberg_error};

/// The metadata tables there are (Spark's `ns.t.snapshots`, `ns.t.files`).
pub use sparkling_sql::table_syntax::METADATA_TABLES;

fn string_arg(args: &[Expr], i: usize, function: &str) -> Result<String> {
    match args.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _)) => Ok(s.clone()),
        Some(Expr::Literal(ScalarValue::Int64(Some(n)), _)) => Ok(n.to_string()),
        other => plan_err!(
            "{function}: argument {} must be a literal, got {other:?}",
            i + 1
        ),
    }
}

fn load(catalog: &IcebergCatalog, name: &str) -> Result<Table> {
    let (ns, t) =
        sparkling_sql::names::split_table_name(name, sparkling_sql::names::DEFAULT_SCHEMA);
    match block_on(catalog.load(&ns, &t))? {
        Some(table) => Ok(table),
        None => plan_err!("table {ns}.{t} does not exist"),
    }
}

/// `sparkling_metadata_table('ns.t', 'snapshots' | 'files')`.
#[derive(Debug)]
pub struct MetadataTableFunction {
    /// Where tables are looked up.
    pub catalog: IcebergCatalog,
}

impl TableFunctionImpl for MetadataTableFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let name = string_arg(args, 0, "sparkling_metadata_table")?;
        let kind = string_arg(args, 1, "sparkling_metadata_table")?;
        let table = load(&self.catalog, &name)?;
        let batch = match kind.to_ascii_lowercase().as_str() {
            "snapshots" => snapshots(&table)?,
            "files" => block_on(files(&table))?,
            other => {
                return plan_err!(
                    "unknown metadata table {name}.{other}; there are {}",
                    METADATA_TABLES.join(", ")
                );
            }
        };
        Ok(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?))
    }
}

/// Spark's `snapshots` metadata table.
pub fn snapshots(table: &Table) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "committed_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("snapshot_id", DataType::Int64, false),
        Field::new("parent_id", DataType::Int64, true),
        Field::new("operation", DataType::Utf8, true),
        Field::new("manifest_list", DataType::Utf8, true),
        Field::new(
            "summary",
            DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(
                        vec![
                            Field::new("keys", DataType::Utf8, false),
                            Field::new("values", DataType::Utf8, true),
                        ]
                        .into(),
                    ),
                    false,
                )),
                false,
            ),
            true,
        ),
    ]));
    let mut committed = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut ids = Int64Builder::new();
    let mut parents = Int64Builder::new();
    let mut operations = StringBuilder::new();
    let mut lists = StringBuilder::new();
    let mut summaries = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut snapshots: Vec<_> = table.metadata().snapshots().collect();
    snapshots.sort_by_key(|s| (s.timestamp_ms(), s.sequence_number()));
    for s in snapshots {
        committed.append_value(s.timestamp_ms());
        ids.append_value(s.snapshot_id());
        parents.append_option(s.parent_snapshot_id());
        operations.append_value(s.summary().operation.as_str());
        lists.append_value(s.manifest_list());
        let mut entries: Vec<_> = s.summary().additional_properties.iter().collect();
        entries.sort();
        for (k, v) in entries {
            summaries.keys().append_value(k);
            summaries.values().append_value(v);
        }
        summaries.append(true)?;
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(committed.finish()),
        Arc::new(ids.finish()),
        Arc::new(parents.finish()),
        Arc::new(operations.finish()),
        Arc::new(lists.finish()),
        Arc::new(summaries.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Spark's `files` metadata table: the live data files of the current snapshot.
pub async fn files(table: &Table) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("content", DataType::Int32, false),
        Field::new("file_path", DataType::Utf8, false),
        Field::new("file_format", DataType::Utf8, false),
        Field::new("spec_id", DataType::Int32, false),
        Field::new("partition", DataType::Utf8, false),
        Field::new("record_count", DataType::Int64, false),
        Field::new("file_size_in_bytes", DataType::Int64, false),
    ]));
    let mut content = Int32Builder::new();
    let mut paths = StringBuilder::new();
    let mut formats = StringBuilder::new();
    let mut specs = Int32Builder::new();
    let mut partitions = StringBuilder::new();
    let mut records = Int64Builder::new();
    let mut sizes = Int64Builder::new();
    let metadata = table.metadata();
    if let Some(snapshot) = metadata.current_snapshot() {
        let list = table
            .manifest_list_reader(snapshot)
            .load()
            .await
            .map_err(iceberg_error)?;
        for manifest_file in list.entries() {
            let manifest = manifest_file
                .load_manifest(table.file_io())
                .await
                .map_err(iceberg_error)?;
            let spec_id = manifest_file.partition_spec_id;
            let field_names: Vec<String> = metadata
                .partition_spec_by_id(spec_id)
                .map(|spec| spec.fields().iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default();
            for entry in manifest.entries().iter().filter(|e| e.is_alive()) {
                let file = entry.data_file();
                content.append_value(file.content_type() as i32);
                paths.append_value(file.file_path());
                formats.append_value(format!("{:?}", file.file_format()).to_uppercase());
                specs.append_value(spec_id);
                let values: Vec<String> = file
                    .partition()
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let name = field_names.get(i).map_or("?", String::as_str);
                        match v {
                            Some(v) => format!("{name}={}", literal(v)),
                            None => format!("{name}=null"),
                        }
                    })
                    .collect();
                partitions.append_value(format!("{{{}}}", values.join(", ")));
                records.append_value(file.record_count() as i64);
                sizes.append_value(file.file_size_in_bytes() as i64);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(content.finish()),
        Arc::new(paths.finish()),
        Arc::new(formats.finish()),
        Arc::new(specs.finish()),
        Arc::new(partitions.finish()),
        Arc::new(records.finish()),
        Arc::new(sizes.finish()),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `sparkling_table_as_of('ns.t', 'version', id_or_ref)` and
/// `sparkling_table_as_of('ns.t', 'timestamp', 'yyyy-mm-dd hh:mm:ss')`: the table as
/// of a snapshot.
#[derive(Debug)]
pub struct TimeTravelFunction {
    /// Where tables are looked up.
    pub catalog: IcebergCatalog,
}

impl TableFunctionImpl for TimeTravelFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let name = string_arg(args, 0, "sparkling_table_as_of")?;
        let kind = string_arg(args, 1, "sparkling_table_as_of")?;
        let value = string_arg(args, 2, "sparkling_table_as_of")?;
        let table = load(&self.catalog, &name)?;
        let metadata = table.metadata();
        let snapshot_id = match kind.as_str() {
            "version" => match value.parse::<i64>() {
                Ok(id) if metadata.snapshot_by_id(id).is_some() => id,
                Ok(id) => return plan_err!("table {name} has no snapshot {id}"),
                Err(_) => match metadata.snapshot_for_ref(&value) {
                    Some(s) => s.snapshot_id(),
                    None => return plan_err!("table {name} has no branch or tag {value:?}"),
                },
            },
            "timestamp" => {
                let millis = match value.parse::<i64>() {
                    // Spark reads a number as seconds since the epoch.
                    Ok(seconds) => seconds * 1000,
                    Err(_) => {
                        arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(&value)
                            .map_err(|e| {
                                datafusion::error::DataFusionError::Plan(format!(
                                    "TIMESTAMP AS OF {value:?}: {e}"
                                ))
                            })?
                            / 1_000_000
                    }
                };
                match metadata
                    .history()
                    .iter()
                    .rfind(|l| l.timestamp_ms <= millis)
                {
                    Some(entry) => entry.snapshot_id,
                    None => {
                        return plan_err!("table {name} has no snapshot at or before {value}");
                    }
                }
            }
            other => return plan_err!("unknown time travel kind {other}"),
        };
        Ok(Arc::new(IcebergTable::new(table, Some(snapshot_id))?))
    }
}

/// A partition value as text.
fn literal(value: &iceberg::spec::Literal) -> String {
    use iceberg::spec::{Literal, PrimitiveLiteral as P};
    match value {
        Literal::Primitive(p) => match p {
            P::Boolean(v) => v.to_string(),
            P::Int(v) => v.to_string(),
            P::Long(v) => v.to_string(),
            P::Float(v) => v.to_string(),
            P::Double(v) => v.to_string(),
            P::String(v) => v.clone(),
            P::Binary(v) => v.iter().map(|b| format!("{b:02x}")).collect(),
            P::Int128(v) => v.to_string(),
            P::UInt128(v) => v.to_string(),
            P::AboveMax => "+inf".to_string(),
            P::BelowMin => "-inf".to_string(),
        },
        other => format!("{other:?}"),
    }
}
