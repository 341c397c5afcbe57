//! Statements into DataFusion logical plans in a session: the one SQL entry point
//! ([`plan_sql_in`], which every front end reaches: Spark Connect, `sparkling sql`,
//! submitted scripts, pipelines, streaming queries), Spark's lakehouse statements
//! as [`LakehouseCommand`] nodes, session statements (`SET`, temporary views), and
//! the other leaves a plan can start from: ranges and file reads. (The DataFusion
//! plans the Rust SDK builds are decoded and bound in [`crate::bind`].)

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::{DdlStatement, LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, lit};

use crate::command::LakehouseCommand;
use crate::error::EngineError;
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

/// DataFusion's plan of a statement, after Spark's time travel and metadata table
/// syntax is rewritten into table functions, named options into pairs and
/// `STREAM(source)` into streaming sources.
pub async fn plan_sql(session: &Session, query: &str) -> Result<LogicalPlan, EngineError> {
    plan_sql_in(&session.ctx.state(), session.iceberg.is_some(), query).await
}

/// [`plan_sql`] in `state`; `lakehouse`: Iceberg tables are there (Spark's table
/// syntax applies). The only caller of DataFusion's `create_logical_plan` (clippy.toml
/// forbids it elsewhere), so no statement skips the rewrite chain.
#[allow(
    clippy::disallowed_methods,
    reason = "the one place statements reach DataFusion's SQL planner"
)]
pub async fn plan_sql_in(
    state: &datafusion::execution::SessionState,
    lakehouse: bool,
    query: &str,
) -> Result<LogicalPlan, EngineError> {
    let query = sparkling_sql::rewrite::rewrite(query, lakehouse)?;
    Ok(state.create_logical_plan(&query).await?)
}

/// Plans one SQL statement; in [`Mode::Execute`] DDL runs now.
pub async fn sql_plan(
    session: &Session,
    query: &str,
    mode: Mode,
) -> Result<LogicalPlan, EngineError> {
    // Spark's DDL for Iceberg tables, which DataFusion does not parse.
    if session.iceberg.is_some()
        && let Some(statement) = sparkling_sql::ddl::parse(query)?
    {
        return Ok(LakehouseCommand::plan(statement, query)?);
    }
    let plan = plan_sql(session, query).await?;
    if mode == Mode::Analyze {
        return Ok(plan);
    }
    if let LogicalPlan::Statement(datafusion::logical_expr::Statement::SetVariable(set)) = &plan {
        crate::join_planning::check_setting(&set.variable, &set.value)
            .map_err(EngineError::InvalidInput)?;
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
            let key = crate::session::canonical_conf_key(&set.variable);
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
pub async fn query_plan(session: &Session, query: &str) -> Result<LogicalPlan, EngineError> {
    let plan = plan_sql(session, query).await?;
    if is_command(&plan) {
        return Err(EngineError::InvalidInput(format!(
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
    ) || LakehouseCommand::of(plan).is_some()
}

/// `id` from `start` to `end` (exclusive) by `step`, as Spark's `range`.
pub async fn range_plan(
    session: &Session,
    start: i64,
    end: i64,
    step: i64,
) -> Result<LogicalPlan, EngineError> {
    // `range` produces Spark's `id` column.
    let query = format!("SELECT id FROM range({start}, {end}, {step})");
    plan_sql_in(&session.ctx.state(), false, &query).await
}

/// Reads files (`parquet`, `csv`, `json`) from local paths or object-store URLs.
/// Fails as Spark does (`Path does not exist`) when `path` names no file, local or in
/// an object store; otherwise an empty bucket prefix would read as an empty table.
async fn require_files(
    ctx: &datafusion::prelude::SessionContext,
    path: &str,
) -> Result<(), EngineError> {
    use futures::StreamExt;
    let url = datafusion::datasource::listing::ListingTableUrl::parse(path)?;
    let store = ctx.runtime_env().object_store(url.object_store())?;
    let state = ctx.state();
    let mut files = url.list_all_files(&state, store.as_ref(), "").await?;
    match files.next().await {
        Some(Ok(_)) => Ok(()),
        None => Err(EngineError::InvalidInput(format!(
            "Path does not exist: {path}"
        ))),
        Some(Err(datafusion::error::DataFusionError::ObjectStore(e)))
            if matches!(*e, object_store::Error::NotFound { .. }) =>
        {
            Err(EngineError::InvalidInput(format!(
                "Path does not exist: {path}"
            )))
        }
        Some(Err(e)) => Err(e.into()),
    }
}

/// `text` with the characters a regular expression gives meaning to escaped.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A DataFrame over files: `format` is `parquet`, `csv` or `json`; `options` are
/// Spark's reader options (`header`, `delimiter`/`sep`, `fileExtension`, `nullValue`); `schema`
/// replaces inference.
pub async fn read_files(
    session: &Session,
    format: &str,
    paths: &[String],
    options: &BTreeMap<String, String>,
    schema: Option<&arrow::datatypes::Schema>,
) -> Result<DataFrame, EngineError> {
    if paths.is_empty() {
        return Err(EngineError::InvalidInput(format!(
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
                    return Err(EngineError::InvalidInput(format!(
                        "CSV delimiter must be one character, got {delimiter:?}"
                    )));
                }
            };
            let null_value = opt("nullValue").or(opt("nullvalue"));
            let o = CsvReadOptions::new()
                .has_header(flag("header", false))
                .delimiter(delimiter)
                .file_extension(opt("fileExtension").unwrap_or(".csv"))
                .null_regex(null_value.map(|v| format!("^{}$", regex_escape(v))));
            match (null_value, schema) {
                (None, Some(s)) => ctx.read_csv(paths, o.schema(s)).await?,
                (None, None) => ctx.read_csv(paths, o).await?,
                // Spark's `nullValue`: the text that reads as NULL, in a column of any
                // type. DataFusion's reader applies it only when inferring, so the
                // fields are read as text and then typed.
                (Some(null_value), schema) => {
                    let typed = match schema {
                        Some(s) => s.clone(),
                        None => ctx
                            .read_csv(paths.clone(), o.clone())
                            .await?
                            .schema()
                            .as_arrow()
                            .clone(),
                    };
                    let text = arrow::datatypes::Schema::new(
                        typed
                            .fields()
                            .iter()
                            .map(|f| f.as_ref().clone().with_data_type(DataType::Utf8))
                            .collect::<Vec<_>>(),
                    );
                    let df = ctx.read_csv(paths, o.schema(&text)).await?;
                    let columns = typed
                        .fields()
                        .iter()
                        .map(|f| {
                            let value = datafusion::functions::expr_fn::nullif(
                                datafusion::prelude::ident(f.name()),
                                lit(null_value),
                            );
                            // Unparsable text is NULL, as in Spark's PERMISSIVE mode.
                            datafusion::logical_expr::Expr::TryCast(
                                datafusion::logical_expr::TryCast::new(
                                    Box::new(value),
                                    f.data_type().clone(),
                                ),
                            )
                            .alias(f.name())
                        })
                        .collect::<Vec<_>>();
                    df.select(columns)?
                }
            }
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
            return Err(EngineError::Unsupported(format!(
                "file format {other:?} is not supported (use parquet, csv or json)"
            )));
        }
    };
    Ok(df)
}
