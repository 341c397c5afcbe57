//! An Iceberg table as a DataFusion table: the scan is planned from the table's
//! manifests (partition pruning and column statistics from the pushed filters) and
//! becomes a Parquet scan of the remaining data files, spread over as many partitions
//! as the session's target parallelism. That physical plan is plain DataFusion, so
//! Ballista ships it to the executors and each reads its share of the files.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{DataFusionError, Result, Statistics, not_impl_err, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use futures::TryStreamExt;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFile, DataFileFormat};
use iceberg::table::Table;

use super::predicate::filters_to_predicate;
use super::snapshots::{ScanFile, live_files};
use super::statistics::scan_statistics;
use super::write::{IcebergWriteExec, WriteSpec};

/// One snapshot of an Iceberg table (the current one unless time-travelling).
#[derive(Debug, Clone)]
pub struct IcebergTable {
    table: Table,
    snapshot_id: Option<i64>,
    /// The snapshot's schema, and the same as DataFusion sees it.
    iceberg_schema: iceberg::spec::SchemaRef,
    schema: SchemaRef,
    write_id: Option<String>,
    /// A fixed set of data files to read instead of the snapshot's (a stream's batch).
    files: Option<Arc<Vec<ScanFile>>>,
}

impl IcebergTable {
    /// The table as of `snapshot_id` (its current snapshot if `None`), with the schema
    /// that snapshot was written with.
    pub fn new(table: Table, snapshot_id: Option<i64>) -> Result<Self> {
        let metadata = table.metadata();
        let schema = match snapshot_id {
            Some(id) => {
                let snapshot = metadata.snapshot_by_id(id).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "table {} has no snapshot {id}",
                        table.identifier()
                    ))
                })?;
                snapshot.schema(metadata).map_err(iceberg_error)?
            }
            None => metadata.current_schema().clone(),
        };
        let arrow_schema =
            iceberg::arrow::schema_to_arrow_schema(&schema).map_err(iceberg_error)?;
        Ok(Self {
            table,
            snapshot_id,
            iceberg_schema: schema,
            schema: Arc::new(arrow_schema),
            write_id: None,
            files: None,
        })
    }

    /// The rows of `files` (data files of `table`, written with its current schema):
    /// what one micro-batch of a stream over the table reads.
    pub fn with_files(table: Table, files: Vec<ScanFile>) -> Result<Self> {
        Ok(Self {
            files: Some(Arc::new(files)),
            ..Self::new(table, None)?
        })
    }

    /// The same table as the target of the write `write_id` (the prefix of every file
    /// the write creates).
    pub fn for_write(&self, write_id: &str) -> Self {
        Self {
            write_id: Some(write_id.to_string()),
            ..self.clone()
        }
    }

    /// What executors need to write data files of this table.
    pub fn write_spec(&self, write_id: &str) -> Result<WriteSpec> {
        let metadata = self.table.metadata();
        let data_location = metadata
            .properties()
            .get("write.data.path")
            .cloned()
            .unwrap_or_else(|| format!("{}/data", metadata.location().trim_end_matches('/')));
        Ok(WriteSpec {
            data_location,
            schema: metadata.current_schema().as_ref().clone(),
            partition_spec: metadata.default_partition_spec().as_ref().clone(),
            format_version: metadata.format_version(),
            write_id: write_id.to_string(),
            storage_properties: storage_properties(&self.table),
        })
    }

    /// The underlying iceberg table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The snapshot this provider reads (`None`: the current one).
    pub fn snapshot_id(&self) -> Option<i64> {
        self.snapshot_id
    }

    /// The data files to read for `filters`.
    async fn plan_files(&self, filters: &[Expr]) -> Result<Vec<ScanFile>> {
        if let Some(files) = &self.files {
            return Ok(files.as_ref().clone());
        }
        let tasks = self.plan_tasks(filters).await?;
        if let Some(task) = tasks.iter().find(|t| !t.deletes.is_empty()) {
            return not_impl_err!(
                "table {} has delete files (e.g. for {}); reading row-level deletes is not supported yet",
                self.table.identifier(),
                task.data_file_path
            );
        }
        if let Some(task) = tasks
            .iter()
            .find(|t| t.data_file_format != DataFileFormat::Parquet)
        {
            return not_impl_err!(
                "table {} has a {:?} data file ({}); only Parquet is supported",
                self.table.identifier(),
                task.data_file_format,
                task.data_file_path
            );
        }
        Ok(tasks
            .into_iter()
            .map(|t| ScanFile {
                path: t.data_file_path,
                size: t.file_size_in_bytes,
                records: t.record_count.unwrap_or_default(),
            })
            .collect())
    }

    /// What the planner knows of a scan of `files` before reading them: rows and, per
    /// column, nulls and bounds, from the snapshot's manifests
    /// ([`scan_statistics`]). A stream's batch, or a table whose manifests do not
    /// list every file, gets the row count alone.
    async fn statistics(&self, files: &[ScanFile]) -> Statistics {
        let rows_only = || {
            let statistics = Statistics::new_unknown(&self.schema);
            if files.iter().all(|f| f.records > 0) {
                let rows: u64 = files.iter().map(|f| f.records).sum();
                statistics.with_num_rows(Precision::Inexact(rows as usize))
            } else {
                statistics
            }
        };
        if self.files.is_some() {
            return rows_only();
        }
        let snapshot = self
            .snapshot_id
            .or_else(|| self.table.metadata().current_snapshot_id());
        let Ok(live) = live_files(&self.table, snapshot).await else {
            return rows_only();
        };
        let by_path: HashMap<&str, &DataFile> = live.iter().map(|f| (f.file_path(), f)).collect();
        match files
            .iter()
            .map(|f| by_path.get(f.path.as_str()).copied())
            .collect::<Option<Vec<_>>>()
        {
            Some(read) => scan_statistics(&self.iceberg_schema, &self.schema, &read),
            None => rows_only(),
        }
    }

    /// The iceberg scan's tasks for `filters`.
    async fn plan_tasks(&self, filters: &[Expr]) -> Result<Vec<FileScanTask>> {
        let builder = || {
            let b = self.table.scan().select_all();
            match self.snapshot_id {
                Some(id) => b.snapshot_id(id),
                None => b,
            }
        };
        let scan = match filters_to_predicate(filters) {
            // A predicate that does not bind (e.g. a literal of another type) only
            // loses pruning, not rows.
            Some(predicate) => match builder().with_filter(predicate).build() {
                Ok(scan) => scan,
                Err(_) => builder().build().map_err(iceberg_error)?,
            },
            None => builder().build().map_err(iceberg_error)?,
        };
        scan.plan_files()
            .await
            .map_err(iceberg_error)?
            .try_collect()
            .await
            .map_err(iceberg_error)
    }
}

#[async_trait]
impl TableProvider for IcebergTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters prune files; the rows are still filtered by the engine.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let tasks = self.plan_files(filters).await?;
        if tasks.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let (store_url, groups) = file_groups(&tasks, state.config().target_partitions().max(1))?;
        // No predicate here: DataFusion's filter pushdown gives the Parquet source the
        // filter above the scan (which the same filters become), and that prunes row
        // groups and pages inside the files; setting it here too would evaluate it twice.
        let source = Arc::new(ParquetSource::new(self.schema()));
        // So the planner estimates filters and sizes joins (and broadcasts small
        // tables) as it does over Parquet files.
        let statistics = self.statistics(&tasks).await;
        let config = FileScanConfigBuilder::new(store_url, source)
            .with_statistics(statistics)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return not_impl_err!(
                "{insert_op} into Iceberg table {} is not supported yet; only INSERT INTO appends",
                self.table.identifier()
            );
        }
        if self.snapshot_id.is_some() || self.files.is_some() {
            return plan_err!(
                "cannot write to a past snapshot or a stream batch of {}",
                self.table.identifier()
            );
        }
        let write_id = self
            .write_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Ok(Arc::new(IcebergWriteExec::new(
            input,
            self.write_spec(&write_id)?,
        )))
    }
}

/// The object store the files live in, and the files spread over at most `n` groups
/// of similar total size (largest file first, each to the lightest group).
fn file_groups(tasks: &[ScanFile], n: usize) -> Result<(ObjectStoreUrl, Vec<FileGroup>)> {
    let mut store_url: Option<ObjectStoreUrl> = None;
    let mut files: Vec<(u64, PartitionedFile)> = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (url, key) = object_location(&task.path)?;
        match &store_url {
            None => store_url = Some(url),
            Some(first) if *first != url => {
                return not_impl_err!(
                    "the table's files are in two stores ({} and {}); a scan reads from one",
                    first.as_str(),
                    url.as_str()
                );
            }
            Some(_) => {}
        }
        let mut file = PartitionedFile::new(key.to_string(), task.size);
        // Keep the key exactly as the writer spelled it (no re-encoding).
        file.object_meta.location = key;
        files.push((task.size, file));
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    // At least one group when there are files, so every file lands in one.
    let n = n.max(1).min(files.len());
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> = (0..n).map(|_| (0, Vec::new())).collect();
    for (size, file) in files {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(total, _)| *total) {
            lightest.0 += size;
            lightest.1.push(file);
        }
    }
    Ok((
        store_url.unwrap_or_else(ObjectStoreUrl::local_filesystem),
        groups
            .into_iter()
            .map(|(_, files)| FileGroup::new(files))
            .collect(),
    ))
}

/// The DataFusion object store (`file://` or `s3://bucket`) and key of a data file.
pub fn object_location(location: &str) -> Result<(ObjectStoreUrl, object_store::path::Path)> {
    let parsed = sparkling_storage::Location::parse(location)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    match parsed {
        sparkling_storage::Location::Local(path) => Ok((
            ObjectStoreUrl::local_filesystem(),
            object_store::path::Path::from_absolute_path(&path)
                .map_err(|e| DataFusionError::Execution(format!("data file {location}: {e}")))?,
        )),
        sparkling_storage::Location::S3 { bucket, key } => {
            Ok((ObjectStoreUrl::parse(format!("s3://{bucket}"))?, key))
        }
    }
}

/// The object-store settings of a table's file IO (what the catalog and the client
/// configuration said: `s3.*` and `client.*`), for executors to reach its files the
/// same way. Catalog credentials such as the REST token are not among them.
pub fn storage_properties(table: &Table) -> std::collections::HashMap<String, String> {
    table
        .file_io()
        .config()
        .props()
        .iter()
        .filter(|(k, _)| k.starts_with("s3.") || k.starts_with("client."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// An iceberg error as a DataFusion error.
pub fn iceberg_error(e: iceberg::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
