//! Turns Spark Connect relations and commands into DataFusion logical plans in a
//! session: SQL, ranges, inline Arrow data, table and file reads, and Sparkling's
//! native DataFusion plans carried in `Relation.extension`.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::dataframe::DataFrame;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{DdlStatement, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions};
use datafusion_proto::bytes::logical_plan_from_bytes_with_extension_codec;
use sparkling_plan::SparklingLogicalCodec;
use sparkling_proto::extension::LOGICAL_PLAN_TYPE_URL;
use sparkling_proto::spark::{Relation, read, relation};

use super::arrow::ipc_to_batches;
use super::bind::bind_remote_tables;
use crate::error::GatewayError;
use crate::session::Session;

/// Whether DDL and DML in a plan run while it is being built (`ExecutePlan`) or are
/// only planned (`AnalyzePlan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run DDL/DML now, as Spark does for `spark.sql("CREATE ...")`.
    Execute,
    /// Only plan.
    Analyze,
}

/// The logical plan of a relation.
pub async fn relation_plan(
    session: &Session,
    relation: Relation,
    mode: Mode,
) -> Result<LogicalPlan, GatewayError> {
    let Some(rel_type) = relation.rel_type else {
        return Err(GatewayError::InvalidInput(
            "relation has no type".to_string(),
        ));
    };
    match rel_type {
        relation::RelType::Sql(sql) => {
            if !sql.named_arguments.is_empty() || !sql.pos_arguments.is_empty() {
                return Err(GatewayError::Unsupported(
                    "parameterized SQL (named or positional arguments) is not supported yet".into(),
                ));
            }
            sql_plan(session, &sql.query, mode).await
        }
        relation::RelType::Range(range) => {
            if range.step == 0 {
                return Err(GatewayError::InvalidInput(
                    "range step must not be 0".into(),
                ));
            }
            range_plan(session, range.start.unwrap_or(0), range.end, range.step).await
        }
        relation::RelType::LocalRelation(local) => {
            let Some(data) = local.data else {
                return Err(GatewayError::Unsupported(
                    "a local relation without Arrow data (schema only) is not supported yet".into(),
                ));
            };
            let (schema, batches) = ipc_to_batches(&data)?;
            let table = MemTable::try_new(schema, vec![batches])?;
            Ok(LogicalPlanBuilder::scan(
                "local_relation",
                provider_as_source(Arc::new(table)),
                None,
            )?
            .build()?)
        }
        relation::RelType::Read(read) => match read.read_type {
            Some(read::ReadType::NamedTable(table)) => {
                if read.is_streaming {
                    return Err(GatewayError::Unsupported(
                        "streaming reads are not supported yet".into(),
                    ));
                }
                Ok(session
                    .ctx
                    .table(table.unparsed_identifier.as_str())
                    .await?
                    .into_unoptimized_plan())
            }
            Some(read::ReadType::DataSource(source)) => {
                let format = source.format.unwrap_or_else(|| "parquet".to_string());
                let options: BTreeMap<String, String> = source.options.into_iter().collect();
                let df = read_files(session, &format, &source.paths, &options, None).await?;
                Ok(df.into_unoptimized_plan())
            }
            None => Err(GatewayError::InvalidInput(
                "read relation without a source".into(),
            )),
        },
        relation::RelType::Limit(limit) => {
            let input = limit
                .input
                .ok_or_else(|| GatewayError::InvalidInput("limit without input".into()))?;
            if limit.limit < 0 {
                return Err(GatewayError::InvalidInput(format!(
                    "negative limit {}",
                    limit.limit
                )));
            }
            let input = Box::pin(relation_plan(session, *input, mode)).await?;
            Ok(LogicalPlanBuilder::from(input)
                .limit(0, Some(limit.limit as usize))?
                .build()?)
        }
        relation::RelType::Extension(any) => {
            if any.type_url != LOGICAL_PLAN_TYPE_URL {
                return Err(GatewayError::Unsupported(format!(
                    "unknown relation extension {:?} (expected {LOGICAL_PLAN_TYPE_URL})",
                    any.type_url
                )));
            }
            native_plan(session, &any.value).await
        }
        other => Err(GatewayError::Unsupported(format!(
            "relation type {} is not supported yet",
            relation_name(&other)
        ))),
    }
}

/// Decodes a client's DataFusion plan and binds its tables.
pub async fn native_plan(session: &Session, bytes: &[u8]) -> Result<LogicalPlan, GatewayError> {
    let codec = SparklingLogicalCodec::default();
    let plan = logical_plan_from_bytes_with_extension_codec(bytes, &session.ctx.task_ctx(), &codec)
        .map_err(|e| {
            GatewayError::InvalidInput(format!("invalid plan payload: {}", e.strip_backtrace()))
        })?;
    bind_remote_tables(session, plan).await
}

/// DataFusion's plan of a statement, after Spark's time travel and metadata table
/// syntax is rewritten into table functions, named options into pairs and
/// `STREAM(source)` into streaming sources.
pub async fn plan_sql(session: &Session, query: &str) -> Result<LogicalPlan, GatewayError> {
    plan_sql_in(&session.ctx.state(), session.iceberg.is_some(), query).await
}

/// [`plan_sql`] in `state`; `lakehouse`: Iceberg tables are there (Spark's table
/// syntax applies).
pub async fn plan_sql_in(
    state: &datafusion::execution::SessionState,
    lakehouse: bool,
    query: &str,
) -> Result<LogicalPlan, GatewayError> {
    let query = sparkling_sql::rewrite::rewrite(query, lakehouse)?;
    Ok(state.create_logical_plan(&query).await?)
}

/// Plans one SQL statement; in [`Mode::Execute`] DDL runs now.
pub async fn sql_plan(
    session: &Session,
    query: &str,
    mode: Mode,
) -> Result<LogicalPlan, GatewayError> {
    // Spark's DDL for Iceberg tables, which DataFusion does not parse.
    if session.iceberg.is_some()
        && let Some(statement) = sparkling_sql::ddl::parse(query)?
    {
        return Ok(crate::lakehouse::commands::LakehouseCommand::plan(
            statement, query,
        )?);
    }
    let plan = plan_sql(session, query).await?;
    if mode == Mode::Analyze {
        return Ok(plan);
    }
    if let LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set)) = &plan {
        crate::join_planning::check_setting(&set.variable, &set.value)
            .map_err(GatewayError::InvalidInput)?;
    }
    match &plan {
        // Spark's CREATE TEMPORARY VIEW belongs to the session.
        LogicalPlan::Ddl(DdlStatement::CreateView(view)) if view.temporary => {
            let table = datafusion::catalog::view::ViewTable::new(
                (*view.input).clone(),
                view.definition.clone(),
            );
            session.register_temp_view(view.name.table(), Arc::new(table), view.or_replace)?;
            Ok(LogicalPlanBuilder::empty(false).build()?)
        }
        // Spark settings DataFusion does not know (`SET spark.sparkling.streaming.trigger
        // = 'availableNow'`) belong to the session, as the Config RPC sets them.
        LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set))
            if !set.variable.starts_with("datafusion.")
                && !set.variable.starts_with("ballista.") =>
        {
            let key = crate::streaming::definition::canonical_conf_key(&set.variable);
            session.set_conf(key, &set.value)?;
            Ok(LogicalPlanBuilder::empty(false).build()?)
        }
        LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => Ok(session
            .ctx
            .execute_logical_plan(plan)
            .await?
            .into_unoptimized_plan()),
        _ => Ok(plan),
    }
}

/// Plans a query; anything else (DDL, DML, SET) is rejected.
pub async fn query_plan(session: &Session, query: &str) -> Result<LogicalPlan, GatewayError> {
    let plan = plan_sql(session, query).await?;
    if is_command(&plan) {
        return Err(GatewayError::InvalidInput(format!(
            "expected a query, got a command: {query}"
        )));
    }
    Ok(plan)
}

/// Whether a plan is a command (runs for its effect) rather than a query.
pub fn is_command(plan: &LogicalPlan) -> bool {
    matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::DescribeTable(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
    ) || crate::lakehouse::commands::LakehouseCommand::of(plan).is_some()
}

/// `id` from `start` to `end` (exclusive) by `step`, as Spark's `range`.
pub async fn range_plan(
    session: &Session,
    start: i64,
    end: i64,
    step: i64,
) -> Result<LogicalPlan, GatewayError> {
    // `range` produces Spark's `id` column.
    let query = format!("SELECT id FROM range({start}, {end}, {step})");
    Ok(session.ctx.state().create_logical_plan(&query).await?)
}

/// Reads files (`parquet`, `csv`, `json`) from local paths or object-store URLs.
/// Fails as Spark does (`Path does not exist`) when `path` names no file, local or in
/// an object store; otherwise an empty bucket prefix would read as an empty table.
async fn require_files(
    ctx: &datafusion::prelude::SessionContext,
    path: &str,
) -> Result<(), GatewayError> {
    use futures::StreamExt;
    let url = datafusion::datasource::listing::ListingTableUrl::parse(path)?;
    let store = ctx.runtime_env().object_store(url.object_store())?;
    let state = ctx.state();
    let mut files = url.list_all_files(&state, store.as_ref(), "").await?;
    match files.next().await {
        Some(Ok(_)) => Ok(()),
        None => Err(GatewayError::InvalidInput(format!(
            "Path does not exist: {path}"
        ))),
        Some(Err(datafusion::error::DataFusionError::ObjectStore(e)))
            if matches!(*e, object_store::Error::NotFound { .. }) =>
        {
            Err(GatewayError::InvalidInput(format!(
                "Path does not exist: {path}"
            )))
        }
        Some(Err(e)) => Err(e.into()),
    }
}

/// A DataFrame over files: `format` is `parquet`, `csv` or `json`; `options` are
/// Spark's reader options (`header`, `delimiter`/`sep`, `fileExtension`); `schema`
/// replaces inference.
pub async fn read_files(
    session: &Session,
    format: &str,
    paths: &[String],
    options: &BTreeMap<String, String>,
    schema: Option<&arrow::datatypes::Schema>,
) -> Result<DataFrame, GatewayError> {
    if paths.is_empty() {
        return Err(GatewayError::InvalidInput(format!(
            "no path given to read {format}"
        )));
    }
    let ctx = &session.ctx;
    for path in paths {
        require_files(ctx, path).await?;
    }
    let opt = |k: &str| options.get(k).map(String::as_str);
    let flag = |k: &str, default: bool| {
        opt(k)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(default)
    };
    let paths = paths.to_vec();
    let df = match format.to_ascii_lowercase().as_str() {
        "parquet" => {
            let mut o = ParquetReadOptions::default();
            if let Some(s) = schema {
                o = o.schema(s);
            }
            ctx.read_parquet(paths, o).await?
        }
        "csv" => {
            let delimiter = opt("delimiter").or(opt("sep")).unwrap_or(",");
            let delimiter = match delimiter.as_bytes() {
                [d] => *d,
                _ => {
                    return Err(GatewayError::InvalidInput(format!(
                        "CSV delimiter must be one character, got {delimiter:?}"
                    )));
                }
            };
            let mut o = CsvReadOptions::new()
                .has_header(flag("header", false))
                .delimiter(delimiter)
                .file_extension(opt("fileExtension").unwrap_or(".csv"));
            if let Some(s) = schema {
                o = o.schema(s);
            }
            ctx.read_csv(paths, o).await?
        }
        "json" => {
            let mut o =
                JsonReadOptions::default().file_extension(opt("fileExtension").unwrap_or(".json"));
            if let Some(s) = schema {
                o = o.schema(s);
            }
            ctx.read_json(paths, o).await?
        }
        other => {
            return Err(GatewayError::Unsupported(format!(
                "file format {other:?} is not supported (use parquet, csv or json)"
            )));
        }
    };
    Ok(df)
}

fn relation_name(rel: &relation::RelType) -> String {
    let debug = format!("{rel:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("unknown")
        .to_string()
}

/// A `PARTITIONED BY` term from a Spark Connect expression: a column, or a transform
/// (`days(ts)`, `bucket(16, id)`, ...) over a column.
pub fn partition_term(
    expr: &sparkling_proto::spark::Expression,
) -> Result<sparkling_sql::PartitionTerm, GatewayError> {
    use sparkling_proto::spark::expression::ExprType;
    use sparkling_proto::spark::expression::literal::LiteralType;
    use sparkling_sql::PartitionTerm;
    let argument = |e: &sparkling_proto::spark::Expression| match &e.expr_type {
        Some(ExprType::UnresolvedAttribute(a)) => Ok(a.unparsed_identifier.clone()),
        Some(ExprType::Literal(l)) => match &l.literal_type {
            Some(LiteralType::Integer(n)) => Ok(n.to_string()),
            Some(LiteralType::Long(n)) => Ok(n.to_string()),
            Some(LiteralType::Short(n) | LiteralType::Byte(n)) => Ok(n.to_string()),
            other => Err(GatewayError::InvalidInput(format!(
                "partition transform argument must be a column or an integer, got {other:?}"
            ))),
        },
        other => Err(GatewayError::InvalidInput(format!(
            "partition transform argument must be a column or an integer, got {other:?}"
        ))),
    };
    let term = match &expr.expr_type {
        Some(ExprType::UnresolvedAttribute(a)) => {
            PartitionTerm::parse(None, std::slice::from_ref(&a.unparsed_identifier))
        }
        Some(ExprType::UnresolvedFunction(f)) => {
            let args = f
                .arguments
                .iter()
                .map(argument)
                .collect::<Result<Vec<_>, _>>()?;
            PartitionTerm::parse(Some(&f.function_name), &args)
        }
        other => {
            return Err(GatewayError::InvalidInput(format!(
                "partitioning must be columns or transforms, got {other:?}"
            )));
        }
    };
    Ok(term?)
}
