//! PySpark's DataFrame writers: `df.write` (`WriteOperation`: `saveAsTable`,
//! `insertInto`, `save`/`parquet`/`csv`/`json` to a path) and `df.writeTo(t)`
//! (`WriteOperationV2`). Table writes are Iceberg writes (one snapshot each, see
//! `sparkling_lakehouse::commands::write_table`); path writes are DataFusion's `COPY`.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::datasource::file_format::format_as_file_type;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use sparkling_engine::session::{Operation, Session};
use sparkling_engine::statement::Mode;
use sparkling_lakehouse::commands::{IfExists, IfMissing, TableWrite, write_table};
use sparkling_proto::spark::write_operation::save_table::TableSaveMethod;
use sparkling_proto::spark::write_operation::{SaveMode, SaveType};
use sparkling_proto::spark::write_operation_v2::Mode as WriteMode;
use sparkling_proto::spark::{WriteOperation, WriteOperationV2};
use tokio::sync::watch;

use crate::Gateway;
use crate::error::{ConnectError, Result};
use crate::relation::{partition_term, relation_plan};

impl Gateway {
    /// `df.writeTo(table).create() / append() / replace() / createOrReplace()`.
    pub(crate) async fn write_v2(
        &self,
        session: &Session,
        write: WriteOperationV2,
        operation: &Arc<Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<()> {
        let (if_exists, if_missing) = match WriteMode::try_from(write.mode) {
            Ok(WriteMode::Create) => (IfExists::Fail, IfMissing::Create),
            Ok(WriteMode::Append) => (IfExists::Append, IfMissing::Fail),
            // The table keeps its schema: the rows must fit it.
            Ok(WriteMode::Replace) => (IfExists::Overwrite, IfMissing::Fail),
            Ok(WriteMode::CreateOrReplace) => (IfExists::Overwrite, IfMissing::Create),
            Ok(other) => {
                return Err(ConnectError::Unsupported(format!(
                    "writeTo(...) mode {} is not supported yet (create, append, replace and \
                     createOrReplace are)",
                    other.as_str_name()
                )));
            }
            Err(_) => {
                return Err(ConnectError::InvalidInput(format!(
                    "unknown write mode {}",
                    write.mode
                )));
            }
        };
        if let Some(provider) = &write.provider
            && !provider.eq_ignore_ascii_case("iceberg")
        {
            return Err(ConnectError::Unsupported(format!(
                "tables are Iceberg tables; provider {provider} is not supported"
            )));
        }
        let partitioned_by = write
            .partitioning_columns
            .iter()
            .map(partition_term)
            .collect::<Result<Vec<_>, _>>()?;
        let input = write
            .input
            .ok_or_else(|| ConnectError::InvalidInput("write without input".into()))?;
        let plan = analyzed(session, relation_plan(session, input, Mode::Execute).await?)?;
        let table = TableWrite {
            table_name: write.table_name,
            if_exists,
            if_missing,
            by_position: false,
            partitioned_by,
            properties: write.table_properties.into_iter().collect(),
        };
        Ok(write_table(self.cluster(), session, plan, table, operation, interrupted).await?)
    }

    /// `df.write.mode(...).saveAsTable(t) / insertInto(t) / save(path)`.
    pub(crate) async fn write(
        &self,
        session: &Session,
        write: WriteOperation,
        operation: &Arc<Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<()> {
        let mode = match SaveMode::try_from(write.mode) {
            Ok(SaveMode::Unspecified) | Ok(SaveMode::ErrorIfExists) => SaveMode::ErrorIfExists,
            Ok(mode) => mode,
            Err(_) => {
                return Err(ConnectError::InvalidInput(format!(
                    "unknown save mode {}",
                    write.mode
                )));
            }
        };
        if write.bucket_by.is_some() {
            return Err(ConnectError::Unsupported(
                "bucketBy is not supported (Iceberg tables partition with bucket(n, col))".into(),
            ));
        }
        let input = write
            .input
            .ok_or_else(|| ConnectError::InvalidInput("write without input".into()))?;
        let plan = analyzed(session, relation_plan(session, input, Mode::Execute).await?)?;
        let plan = if write.sort_column_names.is_empty() {
            plan
        } else {
            let sort = write
                .sort_column_names
                .iter()
                .map(|c| datafusion::prelude::col(c.as_str()).sort(true, true))
                .collect::<Vec<_>>();
            LogicalPlanBuilder::from(plan).sort(sort)?.build()?
        };
        match write.save_type {
            Some(SaveType::Table(table)) => {
                let format = write.source.as_deref().unwrap_or("iceberg");
                if !["iceberg", "parquet"].contains(&format.to_ascii_lowercase().as_str()) {
                    return Err(ConnectError::Unsupported(format!(
                        "tables are Iceberg tables (Parquet files); format {format} is not \
                         supported for saveAsTable"
                    )));
                }
                let method = TableSaveMethod::try_from(table.save_method)
                    .unwrap_or(TableSaveMethod::Unspecified);
                let insert_into = method == TableSaveMethod::InsertInto;
                let if_exists = match mode {
                    SaveMode::Append => IfExists::Append,
                    SaveMode::Overwrite => IfExists::Overwrite,
                    SaveMode::Ignore => IfExists::Ignore,
                    _ if insert_into => IfExists::Append,
                    _ => IfExists::Fail,
                };
                let partitioned_by = write
                    .partitioning_columns
                    .iter()
                    .map(|c| sparkling_sql::PartitionTerm::parse(None, std::slice::from_ref(c)))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| ConnectError::InvalidInput(e.to_string()))?;
                let table = TableWrite {
                    table_name: table.table_name,
                    if_exists,
                    if_missing: if insert_into {
                        IfMissing::Fail
                    } else {
                        IfMissing::Create
                    },
                    by_position: insert_into,
                    partitioned_by,
                    properties: HashMap::new(),
                };
                Ok(
                    write_table(self.cluster(), session, plan, table, operation, interrupted)
                        .await?,
                )
            }
            Some(SaveType::Path(path)) => {
                let format = write.source.as_deref().unwrap_or("parquet");
                write_files(
                    self,
                    session,
                    plan,
                    &path,
                    format,
                    mode,
                    write.partitioning_columns,
                    &write.options,
                    operation,
                    interrupted,
                )
                .await
            }
            None => Err(ConnectError::Unsupported(format!(
                "writing with format {} needs a path or a table",
                write.source.as_deref().unwrap_or("parquet")
            ))),
        }
    }
}

/// The plan as the session's analyzer leaves it: its schema has the types Spark
/// gives (`a / b` is a double), which a table created from it must have too.
fn analyzed(session: &Session, plan: LogicalPlan) -> Result<LogicalPlan> {
    let state = session.ctx.state();
    Ok(state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})?)
}

/// DataFusion's format options for Spark's writer options of `format`.
fn copy_options(
    format: &str,
    options: &HashMap<String, String>,
) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    if format == "csv" {
        // Spark writes no header line unless asked to.
        out.insert("format.has_header".to_string(), "false".to_string());
    }
    for (key, value) in options {
        let key = key.to_ascii_lowercase();
        let mapped = match (format, key.as_str()) {
            ("csv", "header") => "format.has_header",
            ("csv", "sep" | "delimiter") => "format.delimiter",
            ("csv", "quote") => "format.quote",
            ("csv", "escape") => "format.escape",
            ("csv", "nullvalue") => "format.null_value",
            ("csv" | "json", "compression") => "format.compression",
            ("parquet", "compression") => "format.compression",
            _ => {
                return Err(ConnectError::Unsupported(format!(
                    "option {key} of the {format} writer is not supported"
                )));
            }
        };
        let value = if format == "parquet" && key == "compression" {
            // Spark's names; DataFusion wants zstd(level) etc. as they are.
            value.to_ascii_lowercase()
        } else {
            value.clone()
        };
        out.insert(mapped.to_string(), value);
    }
    Ok(out)
}

/// Writes the rows of `plan` as files of `format` under directory `path`.
#[allow(clippy::too_many_arguments)]
async fn write_files(
    gateway: &Gateway,
    session: &Session,
    plan: LogicalPlan,
    path: &str,
    format: &str,
    mode: SaveMode,
    partition_by: Vec<String>,
    options: &HashMap<String, String>,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<()> {
    let format = format.to_ascii_lowercase();
    if !["parquet", "csv", "json"].contains(&format.as_str()) {
        return Err(ConnectError::Unsupported(format!(
            "writing format {format} is not supported (parquet, csv and json are)"
        )));
    }
    let options = copy_options(&format, options)?;
    let dir = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    let state = session.ctx.state();
    let url = datafusion::datasource::listing::ListingTableUrl::parse(&dir)?;
    let store = state.runtime_env().object_store(url.object_store())?;
    let existing: Vec<object_store::path::Path> = store
        .list(Some(url.prefix()))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| ConnectError::Internal(format!("listing {path}: {e}")))?;
    if !existing.is_empty() {
        match mode {
            SaveMode::ErrorIfExists => {
                return Err(ConnectError::InvalidInput(format!(
                    "[PATH_ALREADY_EXISTS] path {path} already exists; set mode to \
                     \"overwrite\" or \"append\" to write there"
                )));
            }
            SaveMode::Ignore => return Ok(()),
            SaveMode::Overwrite => {
                for location in existing {
                    store
                        .delete(&location)
                        .await
                        .map_err(|e| ConnectError::Internal(format!("removing {location}: {e}")))?;
                }
            }
            _ => {}
        }
    }
    let factory = state
        .get_file_format_factory(&format)
        .ok_or_else(|| ConnectError::Unsupported(format!("no {format} writer")))?;
    let copy = LogicalPlanBuilder::copy_to(
        plan,
        dir,
        format_as_file_type(factory),
        options,
        partition_by,
    )?
    .build()?;
    let stream = gateway
        .engine
        .execute(session, copy, operation, interrupted)
        .await?;
    datafusion::physical_plan::common::collect(stream)
        .await
        .map_err(sparkling_engine::EngineError::from)?;
    Ok(())
}
