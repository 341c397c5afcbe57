//! Binds the table references in client plans ([`RemoteTable`]) to real tables of the
//! session that runs the plan.
//!
//! A client plan's leaves name a table, a query, files, a range or inline rows; each
//! becomes the matching provider here (a catalog table, a view over the planned query,
//! a listing table, the `range` table function, a memory table). The schema the client
//! saw must still be the schema of what it names; otherwise the plan is rejected with
//! a message saying what changed.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use datafusion::catalog::TableProvider;
use datafusion::catalog::view::ViewTable;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::{MemTable, provider_as_source, source_as_provider};
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion_proto::bytes::logical_plan_from_bytes_with_extension_codec;
use sparkling_plan::{RemoteSource, RemoteTable, SparklingLogicalCodec};

use crate::error::EngineError;
use crate::session::Session;
use crate::statement;

/// Decodes a client's DataFusion plan and binds its tables.
pub async fn native_plan(session: &Session, bytes: &[u8]) -> Result<LogicalPlan, EngineError> {
    let codec = SparklingLogicalCodec::default();
    let plan = logical_plan_from_bytes_with_extension_codec(bytes, &session.ctx.task_ctx(), &codec)
        .map_err(|e| {
            EngineError::InvalidInput(format!("invalid plan payload: {}", e.strip_backtrace()))
        })?;
    bind_remote_tables(session, plan).await
}

/// Replaces every [`RemoteTable`] scan in `plan` with the table it names.
pub async fn bind_remote_tables(
    session: &Session,
    plan: LogicalPlan,
) -> Result<LogicalPlan, EngineError> {
    // Collect the references first (resolution is async), then rewrite the plan.
    let mut remote: Vec<(usize, RemoteTable)> = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Some((key, table)) = remote_table(scan)
            && !remote.iter().any(|(k, _)| *k == key)
        {
            remote.push((key, table));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if remote.is_empty() {
        return Ok(plan);
    }
    let mut bound: HashMap<usize, Arc<dyn TableProvider>> = HashMap::new();
    for (key, table) in remote {
        let provider = resolve(session, &table).await?;
        check_schema(&table, provider.as_ref())?;
        bound.insert(key, provider);
    }
    let plan = plan
        .transform_up(|node| {
            let LogicalPlan::TableScan(scan) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some((key, _)) = remote_table(scan) else {
                return Ok(Transformed::no(node));
            };
            let provider = Arc::clone(&bound[&key]);
            let scan = TableScan::try_new(
                scan.table_name.clone(),
                provider_as_source(provider),
                scan.projection.clone(),
                scan.filters.clone(),
                scan.fetch,
            )?;
            Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
        })?
        .data;
    Ok(plan)
}

/// The remote table a scan reads, keyed by the identity of its provider.
fn remote_table(scan: &TableScan) -> Option<(usize, RemoteTable)> {
    let provider = source_as_provider(&scan.source).ok()?;
    let key = Arc::as_ptr(&provider) as *const () as usize;
    provider
        .as_any()
        .downcast_ref::<RemoteTable>()
        .map(|t| (key, t.clone()))
}

async fn resolve(
    session: &Session,
    table: &RemoteTable,
) -> Result<Arc<dyn TableProvider>, EngineError> {
    let ctx = &session.ctx;
    Ok(match table.source() {
        RemoteSource::Named(name) => ctx.table_provider(name.as_str()).await?,
        RemoteSource::Sql(query) => {
            let planned = statement::query_plan(session, query).await?;
            Arc::new(ViewTable::new(planned, Some(query.clone())))
        }
        RemoteSource::Files {
            format,
            paths,
            options,
        } => {
            let df = statement::read_files(session, format, paths, options, None).await?;
            Arc::new(ViewTable::new(df.into_unoptimized_plan(), None))
        }
        RemoteSource::Range { start, end, step } => Arc::new(ViewTable::new(
            statement::range_plan(session, *start, *end, *step).await?,
            None,
        )),
        RemoteSource::Local(ipc) => {
            let (schema, batches) = ipc_to_batches(ipc)?;
            Arc::new(MemTable::try_new(schema, vec![batches])?)
        }
    })
}

/// The client saw `table.schema()`; the bound provider must produce the same columns.
fn check_schema(table: &RemoteTable, provider: &dyn TableProvider) -> Result<(), EngineError> {
    let expected = table.schema();
    let actual = provider.schema();
    let same = expected.fields().len() == actual.fields().len()
        && expected
            .fields()
            .iter()
            .zip(actual.fields())
            .all(|(e, a)| e.name() == a.name() && e.data_type() == a.data_type());
    if same {
        return Ok(());
    }
    let show = |s: &arrow::datatypes::Schema| {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(EngineError::InvalidInput(format!(
        "{} changed since the DataFrame was created: the plan expects ({}) but it now has ({})",
        table.source(),
        show(&expected),
        show(&actual)
    )))
}

/// Decodes an Arrow IPC stream sent by a client (a `LocalRelation`).
pub fn ipc_to_batches(data: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
    let bad = |e: arrow::error::ArrowError| {
        EngineError::InvalidInput(format!(
            "local relation is not a valid Arrow IPC stream: {e}"
        ))
    };
    let reader = StreamReader::try_new(Cursor::new(data), None).map_err(bad)?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(bad)?;
    Ok((schema, batches))
}
