//! Streaming queries from SQL: `CREATE [OR REFRESH] STREAMING TABLE ... AS SELECT ...
//! FROM STREAM(...)`, `INSERT INTO t SELECT ... FROM STREAM(...)` and `SHOW STREAMS`.
//!
//! The session's settings choose the trigger (`spark.sparkling.streaming.trigger`),
//! the query name and the dead-letter table. With a bounded trigger (available-now,
//! once) the statement returns when the query has finished, and fails if it failed;
//! otherwise it returns once the query runs.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use sparkling_connectors::iceberg::IcebergCatalog;
use sparkling_sql::PartitionTerm;
use tokio::sync::watch;

use super::batch::{CORRUPT_RECORD_COLUMN, stream_source};
use super::definition::{
    DEAD_LETTER_CONF, QUERY_NAME_CONF, QueryDefinition, TRIGGER_CONF, TableName, Trigger, query_id,
};
use super::{End, QueryHandle, StreamingManager};
use crate::commands::{TableDefinition, require_namespace};
use crate::error::{LakehouseError, Result};
use sparkling_engine::session::Session;
use sparkling_engine::statement::{is_command, plan_sql};
use sparkling_sql::ddl::{CreateTable, Statement};
use sparkling_sql::names::table_name_parts;

/// Whether the streaming manager runs `statement`.
pub fn is_streaming(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::CreateStreamingTable { .. }
            | Statement::InsertStream { .. }
            | Statement::ShowStreams
    )
}

/// Runs a streaming statement.
pub async fn run(
    manager: &StreamingManager,
    session: &Session,
    statement: &Statement,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream> {
    match statement {
        Statement::CreateStreamingTable { table, or_refresh } => {
            create_streaming_table(manager, session, table, *or_refresh, interrupted).await
        }
        Statement::InsertStream { table, query } => {
            let (namespace, name) = table_name_parts(table)?;
            let target = TableName { namespace, name };
            let catalog = catalog(session)?;
            if catalog
                .load(&target.namespace, &target.name)
                .await?
                .is_none()
            {
                return Err(LakehouseError::InvalidInput(format!(
                    "table {target} does not exist (CREATE STREAMING TABLE creates it from the \
                     query)"
                )));
            }
            check_query(session, query).await?;
            let request = StartRequest::from_session(session, target, query.clone())?;
            start_and_wait(manager, request, interrupted).await
        }
        Statement::ShowStreams => Ok(show_streams(manager)),
        _ => Err(LakehouseError::Internal(
            "not a streaming statement".to_string(),
        )),
    }
}

/// The Iceberg catalog streaming queries write to.
pub fn catalog(session: &Session) -> Result<&IcebergCatalog> {
    session.iceberg.as_ref().ok_or_else(|| {
        LakehouseError::Unsupported(
            "streaming queries write Iceberg tables: start the scheduler with --catalog".into(),
        )
    })
}

/// Plans `query` once to check it: a query reading one `STREAM(...)` source.
pub async fn check_query(
    session: &Session,
    query: &str,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    let plan = plan_sql(session, query).await?;
    if is_command(&plan) {
        return Err(LakehouseError::InvalidInput(format!(
            "a streaming table is defined by a query, got: {query}"
        )));
    }
    stream_source(&plan)?;
    Ok(plan)
}

async fn create_streaming_table(
    manager: &StreamingManager,
    session: &Session,
    create: &CreateTable,
    or_refresh: bool,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream> {
    if let Some(using) = &create.using
        && !using.eq_ignore_ascii_case("iceberg")
    {
        return Err(LakehouseError::Unsupported(format!(
            "streaming tables are Iceberg tables; USING {using} is not supported"
        )));
    }
    if create.columns.is_some() {
        return Err(LakehouseError::InvalidInput(
            "CREATE STREAMING TABLE takes its columns from the query; do not list them".into(),
        ));
    }
    let query = create
        .query
        .clone()
        .ok_or_else(|| LakehouseError::InvalidInput("CREATE STREAMING TABLE needs AS".into()))?;
    let (namespace, name) = table_name_parts(&create.name)?;
    let target = TableName { namespace, name };
    let plan = check_query(session, &query).await?;
    let exists = catalog(session)?
        .load(&target.namespace, &target.name)
        .await?
        .is_some();
    if exists && !or_refresh && !create.if_not_exists {
        return Err(LakehouseError::InvalidInput(format!(
            "table {target} already exists (CREATE OR REFRESH STREAMING TABLE resumes its stream)"
        )));
    }
    let request = StartRequest::from_session(session, target, query)?;
    if !exists {
        create_target(
            session,
            &request,
            &plan,
            create.partitioned_by.clone(),
            create.properties.clone().into_iter().collect(),
            create.location.clone(),
        )
        .await?;
    }
    start_and_wait(manager, request, interrupted).await
}

/// A streaming query to start.
pub struct StartRequest {
    /// The table it appends to.
    pub target: TableName,
    /// Its query (SQL reading one `STREAM(...)`).
    pub query: String,
    /// Its trigger.
    pub trigger: Trigger,
    /// Its name (default: the table's).
    pub name: String,
    /// Where rows with a `_corrupt_record` go.
    pub dead_letter: Option<TableName>,
    /// Expectations on each batch's rows.
    pub expectations: Vec<crate::expectations::Expectation>,
}

/// `ns.table` or `table` as a table name.
pub fn parse_table_name(text: &str) -> Result<TableName> {
    let parts: Vec<String> = text.split('.').map(|p| p.trim().to_string()).collect();
    let (namespace, name) = table_name_parts(&parts)?;
    Ok(TableName { namespace, name })
}

impl StartRequest {
    /// A request with the session's streaming settings.
    pub fn from_session(session: &Session, target: TableName, query: String) -> Result<Self> {
        let trigger = session
            .get_conf(TRIGGER_CONF)
            .map(|t| Trigger::parse(&t))
            .transpose()?
            .unwrap_or_default();
        let name = session
            .get_conf(QUERY_NAME_CONF)
            .unwrap_or_else(|| target.name.clone());
        let dead_letter = session
            .get_conf(DEAD_LETTER_CONF)
            .map(|t| parse_table_name(&t))
            .transpose()?;
        Ok(Self {
            target,
            query,
            trigger,
            name,
            dead_letter,
            expectations: Vec::new(),
        })
    }
}

/// Creates the table a streaming query writes, with the query's columns (except
/// `_corrupt_record` when dead letters go elsewhere).
pub async fn create_target(
    session: &Session,
    request: &StartRequest,
    plan: &datafusion::logical_expr::LogicalPlan,
    partitioned_by: Vec<PartitionTerm>,
    properties: HashMap<String, String>,
    location: Option<String>,
) -> Result<()> {
    let catalog = catalog(session)?;
    require_namespace(catalog, &request.target.namespace).await?;
    let schema = Schema::new(
        plan.schema()
            .as_arrow()
            .fields()
            .iter()
            .filter(|f| request.dead_letter.is_none() || f.name() != CORRUPT_RECORD_COLUMN)
            .cloned()
            .collect::<Vec<_>>(),
    );
    TableDefinition {
        namespace: request.target.namespace.clone(),
        name: request.target.name.clone(),
        schema,
        partitioned_by,
        properties,
        location,
    }
    .create(catalog)
    .await?;
    Ok(())
}

/// Starts a query.
pub fn start_query(manager: &StreamingManager, request: StartRequest) -> Result<Arc<QueryHandle>> {
    let StartRequest {
        target,
        query,
        trigger,
        name,
        dead_letter,
        expectations,
    } = request;
    let id = query_id(&target, &name);
    // A query defined again keeps its first start (generated events are timed from it).
    let created_ms = manager
        .info(&id)
        .map(|q| q.definition.created_ms)
        .unwrap_or_else(sparkling_engine::clock::now_ms);
    manager.start(QueryDefinition {
        id,
        name,
        target,
        query,
        trigger,
        dead_letter,
        created_ms,
        expectations,
    })
}

/// Starts the query; with a bounded trigger, waits for it to finish.
async fn start_and_wait(
    manager: &StreamingManager,
    request: StartRequest,
    mut interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream> {
    let bounded = request.trigger.is_bounded();
    let handle = start_query(manager, request)?;
    if bounded {
        // An interrupted statement stops waiting; the query goes on (it belongs to
        // the cluster, and `sparkling streams` shows it).
        tokio::select! {
            _ = handle.await_end(None) => {}
            _ = async { let _ = interrupted.wait_for(|v| *v).await; } => {
                return Err(LakehouseError::Cancelled(format!(
                    "stopped waiting for streaming query {} ({}); it keeps running",
                    handle.definition.name, handle.definition.id
                )));
            }
        }
        if let Some(End::Failed(e)) = handle.end() {
            return Err(LakehouseError::JobFailed(format!(
                "streaming query {} failed: {e}",
                handle.definition.name
            )));
        }
    }
    Ok(started_result(&handle))
}

fn one_batch(schema: Arc<Schema>, columns: Vec<ArrayRef>) -> SendableRecordBatchStream {
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(Into::into);
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter([batch]),
    ))
}

/// The columns that describe a query, first in every streaming statement's result.
fn query_fields() -> Vec<Field> {
    vec![
        Field::new("query_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("table", DataType::Utf8, false),
        Field::new("trigger", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("last_batch", DataType::Int64, true),
    ]
}

fn started_result(handle: &QueryHandle) -> SendableRecordBatchStream {
    let def = &handle.definition;
    let schema = Arc::new(Schema::new(query_fields()));
    one_batch(
        schema,
        vec![
            Arc::new(StringArray::from(vec![def.id.clone()])),
            Arc::new(StringArray::from(vec![def.name.clone()])),
            Arc::new(StringArray::from(vec![def.target.to_string()])),
            Arc::new(StringArray::from(vec![def.trigger.to_string()])),
            Arc::new(StringArray::from(vec![handle.state().as_str()])),
            Arc::new(Int64Array::from(vec![handle.last_batch()])),
        ],
    )
}

/// `SHOW STREAMS`.
fn show_streams(manager: &StreamingManager) -> SendableRecordBatchStream {
    let queries = manager.list();
    let mut fields = query_fields();
    fields.extend([
        Field::new("input_rows", DataType::Int64, true),
        Field::new("processed_rows_per_second", DataType::Utf8, true),
        Field::new("total_lag", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
    ]);
    let schema = Arc::new(Schema::new(fields));
    let progress: Vec<_> = queries
        .iter()
        .map(|q| q.handle.as_ref().and_then(|h| h.last_progress()))
        .collect();
    let text = |f: &dyn Fn(&super::QueryInfo) -> String| -> ArrayRef {
        Arc::new(StringArray::from(queries.iter().map(f).collect::<Vec<_>>()))
    };
    one_batch(
        Arc::clone(&schema),
        vec![
            text(&|q| q.definition.id.clone()),
            text(&|q| q.definition.name.clone()),
            text(&|q| q.definition.target.to_string()),
            text(&|q| q.definition.trigger.to_string()),
            text(&|q| q.state.to_string()),
            Arc::new(Int64Array::from(
                queries
                    .iter()
                    .map(|q| q.handle.as_ref().and_then(|h| h.last_batch()))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                progress
                    .iter()
                    .map(|p| p.as_ref().map(|p| p.num_input_rows as i64))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                progress
                    .iter()
                    .map(|p| {
                        p.as_ref()
                            .map(|p| format!("{:.1}", p.processed_rows_per_second))
                    })
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                progress
                    .iter()
                    .map(|p| {
                        p.as_ref()
                            .and_then(|p| p.sources.first())
                            .and_then(|s| s.metrics.get("totalLag").cloned())
                    })
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(
                queries.iter().map(|q| q.error.clone()).collect::<Vec<_>>(),
            )),
        ],
    )
}
