//! `INSERT` into an Iceberg table: one distributed job whose executors write data
//! files and report them; after the job succeeded the scheduler commits them as
//! exactly one snapshot (an append, or an overwrite replacing all rows) (retrying when another writer committed first). A failed or
//! cancelled job commits nothing and its files are removed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::TableReference;
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{DmlStatement, LogicalPlan, WriteOp};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use iceberg::spec::{DataFile, deserialize_data_file_from_json};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, ErrorKind};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sparkling_connectors::iceberg::WriteSpec;
use sparkling_connectors::iceberg::snapshots::replace_all;
use sparkling_connectors::iceberg::table::object_location;
use sparkling_connectors::iceberg::write::{DATA_FILE_COLUMN, write_output_schema};
use sparkling_connectors::iceberg::{IcebergCatalog, IcebergTable};
use sparkling_storage::{Location, S3Settings};
use tokio::sync::watch;

use crate::error::{LakehouseError, Result};
use sparkling_engine::cluster::Cluster;
use sparkling_engine::job::run_job;
use sparkling_engine::session::{Operation, Session};

/// Snapshot summary key naming the write (the prefix of its data files).
pub const WRITE_ID_PROPERTY: &str = "sparkling.write-id";
/// Snapshot summary key naming the scheduler job that wrote the snapshot's files.
pub const JOB_ID_PROPERTY: &str = "sparkling.job-id";

/// How often a commit that keeps losing to other writers is tried again.
const COMMIT_ATTEMPTS: usize = 20;

/// The Iceberg table an `INSERT` plan writes to, if it writes to one.
pub fn insert_target(plan: &LogicalPlan) -> Option<IcebergTable> {
    let LogicalPlan::Dml(dml) = plan else {
        return None;
    };
    if !matches!(dml.op, WriteOp::Insert(_)) {
        return None;
    }
    let provider = source_as_provider(&dml.target).ok()?;
    provider.as_any().downcast_ref::<IcebergTable>().cloned()
}

/// Runs an `INSERT` into an Iceberg table and commits it; returns Spark's `count` row.
pub async fn insert(
    cluster: &Cluster,
    session: &Session,
    catalog: &IcebergCatalog,
    plan: LogicalPlan,
    target: IcebergTable,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream> {
    let LogicalPlan::Dml(dml) = plan else {
        return Err(LakehouseError::Internal("not an insert".into()));
    };
    // INSERT OVERWRITE replaces all rows (Spark's static overwrite without a
    // PARTITION clause).
    let replace = match dml.op {
        WriteOp::Insert(InsertOp::Append) => false,
        WriteOp::Insert(InsertOp::Overwrite) => true,
        op => {
            return Err(LakehouseError::Unsupported(format!(
                "{op} into Iceberg table {} is not supported yet; INSERT INTO appends and \
                 INSERT OVERWRITE replaces all rows",
                dml.table_name
            )));
        }
    };
    let rows = append(
        cluster,
        session,
        catalog,
        Append {
            table_name: dml.table_name.clone(),
            input: Arc::clone(&dml.input),
            target,
            properties: HashMap::new(),
            replace,
            precondition: None,
        },
        interrupted,
        |id| *operation.job_id.lock() = Some(id.to_string()),
    )
    .await?;
    Ok(count_result(rows))
}

/// Decides, on the table as it is just before a commit, whether the commit may go
/// ahead: `Err(reason)` stops it (e.g. the batch is already in the table).
pub type Precondition = Box<dyn Fn(&Table) -> Result<(), String> + Send + Sync>;

/// Rows to append to an Iceberg table as one snapshot.
pub struct Append {
    /// The table's name, as the plan shows it.
    pub table_name: TableReference,
    /// The rows, in the table's column order and types.
    pub input: Arc<LogicalPlan>,
    /// The table.
    pub target: IcebergTable,
    /// Extra snapshot summary properties.
    pub properties: HashMap<String, String>,
    /// Whether the rows replace all of the table's rows (an overwrite snapshot, as a
    /// materialized view's refresh) instead of being appended.
    pub replace: bool,
    /// Checked before every commit attempt.
    pub precondition: Option<Precondition>,
}

/// Runs `append` as one distributed job and commits what it wrote as one snapshot;
/// returns the number of rows committed. `on_job` hears the scheduler's job id.
pub async fn append(
    cluster: &Cluster,
    session: &Session,
    catalog: &IcebergCatalog,
    append: Append,
    interrupted: watch::Receiver<bool>,
    on_job: impl Fn(&str),
) -> Result<u64> {
    let Append {
        table_name,
        input,
        target,
        properties,
        replace,
        precondition,
    } = append;
    let write_id = uuid::Uuid::new_v4().to_string();
    let spec = target.write_spec(&write_id)?;
    let plan = LogicalPlan::Dml(DmlStatement::new(
        table_name.clone(),
        provider_as_source(Arc::new(target.for_write(&write_id))),
        WriteOp::Insert(InsertOp::Append),
        input,
    ));
    let job_id = Arc::new(parking_lot::Mutex::new(String::new()));
    let written = async {
        let stream = run_job(
            cluster,
            &format!("insert into {table_name}"),
            Arc::clone(&session.ctx),
            &plan,
            write_output_schema(),
            interrupted,
            |id| {
                on_job(id);
                *job_id.lock() = id.to_string();
            },
        )
        .await?;
        let batches = datafusion::physical_plan::common::collect(stream).await?;
        data_files(&batches, target.table())
    }
    .await;
    let files = match written {
        Ok(files) => files,
        Err(e) => {
            remove_write_files(&spec, &HashSet::new()).await;
            return Err(e);
        }
    };
    let rows: u64 = files.iter().map(|f| f.record_count()).sum();
    let kept: HashSet<String> = files.iter().map(|f| f.file_path().to_string()).collect();
    let mut properties = properties;
    properties.insert(WRITE_ID_PROPERTY.to_string(), write_id.clone());
    properties.insert(JOB_ID_PROPERTY.to_string(), job_id.lock().clone());
    let committed = commit(
        catalog,
        target.table(),
        files,
        properties,
        &write_id,
        replace,
        precondition.as_ref(),
    )
    .await;
    if let Err(e) = committed {
        remove_write_files(&spec, &HashSet::new()).await;
        return Err(e);
    }
    // Files of failed task attempts are not part of the snapshot.
    remove_write_files(&spec, &kept).await;
    Ok(rows)
}

/// The data files the executors reported.
fn data_files(batches: &[RecordBatch], table: &Table) -> Result<Vec<DataFile>> {
    let metadata = table.metadata();
    let spec = metadata.default_partition_spec();
    let schema = metadata.current_schema();
    let partition_type = spec
        .partition_type(schema)
        .map_err(|e| LakehouseError::Internal(format!("partition type: {e}")))?;
    let mut files = Vec::new();
    for batch in batches {
        let column = batch
            .column_by_name(DATA_FILE_COLUMN)
            .ok_or_else(|| LakehouseError::Internal("write results lack data files".into()))?;
        for json in column.as_string::<i32>().iter().flatten() {
            let file =
                deserialize_data_file_from_json(json, spec.spec_id(), &partition_type, schema)
                    .map_err(|e| LakehouseError::Internal(format!("a written data file: {e}")))?;
            files.push(file);
        }
    }
    Ok(files)
}

/// Appends `files` as one snapshot (or, with `replace`, makes them the table's only
/// files). A conflict with another writer is retried on the refreshed table; an
/// unknown outcome is resolved by looking for the write's id in the table's
/// snapshots, so a write never lands twice.
async fn commit(
    catalog: &IcebergCatalog,
    table: &Table,
    files: Vec<DataFile>,
    properties: HashMap<String, String>,
    write_id: &str,
    replace: bool,
    precondition: Option<&Precondition>,
) -> Result<()> {
    let mut table = table.clone();
    let mut last_error = None;
    for attempt in 1..=COMMIT_ATTEMPTS {
        if let Some(check) = precondition {
            check(&table).map_err(LakehouseError::JobFailed)?;
        }
        let result = if replace {
            replace_all(catalog, &table, files.clone(), properties.clone()).await
        } else {
            let tx = Transaction::new(&table);
            let action = tx
                .fast_append()
                .add_data_files(files.clone())
                .set_snapshot_properties(properties.clone());
            match action.apply(tx) {
                Ok(tx) => tx.commit(catalog.client()).await.map(|_| ()),
                Err(e) => Err(e),
            }
        };
        let error = match result {
            Ok(()) => {
                if replace {
                    sparkling_engine::counters::OVERWRITE_COMMITS.inc();
                } else {
                    sparkling_engine::counters::APPEND_COMMITS.inc();
                }
                return Ok(());
            }
            Err(e) => e,
        };
        // Whatever happened, the commit may have landed: look before trying again.
        table = catalog
            .client()
            .load_table(table.identifier())
            .await
            .map_err(|e| {
                LakehouseError::Internal(format!("reloading {}: {e}", table.identifier()))
            })?;
        if has_write(&table, write_id) {
            return Ok(());
        }
        if error.kind() != ErrorKind::CatalogCommitConflicts {
            return Err(LakehouseError::JobFailed(format!(
                "committing to {} failed: {error}",
                table.identifier()
            )));
        }
        tracing::info!(
            attempt,
            "commit to {} conflicted; retrying",
            table.identifier()
        );
        sparkling_engine::counters::COMMIT_CONFLICTS.inc();
        last_error = Some(error);
        tokio::time::sleep(std::time::Duration::from_millis(20 * attempt as u64)).await;
    }
    Err(LakehouseError::JobFailed(format!(
        "committing to {} kept conflicting with other writers: {}",
        table.identifier(),
        last_error.map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn has_write(table: &Table, write_id: &str) -> bool {
    table.metadata().snapshots().any(|s| {
        s.summary()
            .additional_properties
            .get(WRITE_ID_PROPERTY)
            .is_some_and(|id| id == write_id)
    })
}

/// Removes the files of the write `spec.write_id` under its data location, except
/// `keep` (the files a snapshot references). Failures are logged: what is left is
/// unreferenced, wasted space but not wrong data.
async fn remove_write_files(spec: &WriteSpec, keep: &HashSet<String>) {
    if let Err(e) = try_remove_write_files(spec, keep).await {
        tracing::warn!(
            "could not clean up the files of write {} under {}: {e}",
            spec.write_id,
            spec.data_location
        );
    }
}

async fn try_remove_write_files(
    spec: &WriteSpec,
    keep: &HashSet<String>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let settings = S3Settings::from_env().overridden_by(&spec.storage_properties);
    let (store, root) = Location::parse(&spec.data_location)?.store(&settings)?;
    // A committed file whose path cannot be read back must not be mistaken for an
    // orphan: then nothing is removed.
    let keep: HashSet<ObjectPath> = keep
        .iter()
        .map(|p| object_location(p).map(|(_, key)| key))
        .collect::<Result<_, _>>()?;
    let mut listing = store.list(Some(&root));
    let mut doomed = Vec::new();
    while let Some(meta) = listing.next().await {
        let meta = match meta {
            Ok(meta) => meta,
            // Nothing was ever written there.
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        let ours = meta
            .location
            .filename()
            .is_some_and(|name| name.starts_with(&spec.write_id));
        if ours && !keep.contains(&meta.location) {
            doomed.push(meta.location);
        }
    }
    for location in doomed {
        if let Err(e) = store.delete(&location).await {
            tracing::warn!("could not remove {location}: {e}");
        }
    }
    Ok(())
}

/// The result of an insert: the number of rows written, a `bigint` (Spark has no
/// unsigned types).
fn count_result(rows: u64) -> SendableRecordBatchStream {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "count",
        DataType::Int64,
        false,
    )]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Int64Array::from(vec![
            i64::try_from(rows).unwrap_or(i64::MAX),
        ]))],
    )
    .map_err(Into::into);
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter([batch]),
    ))
}
