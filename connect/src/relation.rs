//! Spark Connect relations as plans in a session: the translation is
//! `sparkling_spark`'s; this module gives it the session ([`SessionPlans`]: SQL
//! through the engine's one entry point, tables, files, ranges, the plans the Rust
//! SDK sends in `Relation.extension`). Also `PARTITIONED BY` terms of writes.

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use sparkling_engine::bind::native_plan;
use sparkling_engine::session::Session;
use sparkling_engine::statement::{Mode, range_plan, read_files, sql_plan};
use sparkling_proto::extension::LOGICAL_PLAN_TYPE_URL;
use sparkling_proto::spark::Relation;
use sparkling_spark::{PlanContext, Planned, Planner};

use crate::error::{ConnectError, Result};

/// A session as the plan translation sees it.
pub struct SessionPlans<'a> {
    session: &'a Session,
    mode: Mode,
}

impl<'a> SessionPlans<'a> {
    /// Plans in `session`; in [`Mode::Execute`] SQL DDL runs as it is planned.
    pub fn new(session: &'a Session, mode: Mode) -> Self {
        Self { session, mode }
    }
}

#[async_trait]
impl PlanContext for SessionPlans<'_> {
    type Error = ConnectError;

    fn state(&self) -> SessionState {
        self.session.ctx.state()
    }

    async fn sql(&self, query: &str) -> Result<LogicalPlan> {
        Ok(sql_plan(self.session, query, self.mode).await?)
    }

    async fn table(&self, name: &str) -> Result<LogicalPlan> {
        Ok(self.session.ctx.table(name).await?.into_unoptimized_plan())
    }

    async fn read(
        &self,
        format: &str,
        paths: &[String],
        options: &BTreeMap<String, String>,
        schema: Option<SchemaRef>,
    ) -> Result<LogicalPlan> {
        let df = read_files(self.session, format, paths, options, schema.as_deref()).await?;
        Ok(df.into_unoptimized_plan())
    }

    async fn range(&self, start: i64, end: i64, step: i64) -> Result<LogicalPlan> {
        Ok(range_plan(self.session, start, end, step).await?)
    }

    fn temp_views(&self) -> Vec<String> {
        self.session.temp_view_names()
    }

    async fn register_temp_view(&self, name: &str, plan: LogicalPlan) -> Result<()> {
        let view = datafusion::catalog::view::ViewTable::new(plan, None);
        Ok(self
            .session
            .register_temp_view(name, std::sync::Arc::new(view), true)?)
    }

    async fn drop_temp_view(&self, name: &str) -> Result<bool> {
        Ok(self.session.drop_temp_view(name)?)
    }

    async fn drop_global_temp_view(&self, name: &str) -> Result<bool> {
        Ok(self.session.drop_global_temp_view(name)?)
    }

    async fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>> {
        // Runs in the gateway's session: these are small plans over the input the
        // job itself reads again.
        Ok(self
            .session
            .ctx
            .execute_logical_plan(plan)
            .await?
            .collect()
            .await?)
    }

    async fn extension(&self, type_url: &str, value: &[u8]) -> Result<LogicalPlan> {
        if type_url != LOGICAL_PLAN_TYPE_URL {
            return Err(ConnectError::Unsupported(format!(
                "unknown relation extension {type_url:?} (expected {LOGICAL_PLAN_TYPE_URL})"
            )));
        }
        Ok(native_plan(self.session, value).await?)
    }
}

/// The translated root relation of a request.
pub async fn root_plan(session: &Session, relation: Relation, mode: Mode) -> Result<Planned> {
    Ok(observed_root_plan(session, relation, mode).await?.0)
}

/// The translated root relation of a request, and the metrics it observes.
pub async fn observed_root_plan(
    session: &Session,
    relation: Relation,
    mode: Mode,
) -> Result<(Planned, Vec<sparkling_spark::Observation>)> {
    let plans = SessionPlans::new(session, mode);
    let mut planner = Planner::new(&plans);
    let planned = planner.root(relation).await?;
    Ok((planned, planner.take_observations()))
}

/// The logical plan of a relation that is input to something else (a view, a
/// write).
pub async fn relation_plan(
    session: &Session,
    relation: Relation,
    mode: Mode,
) -> Result<LogicalPlan> {
    let plans = SessionPlans::new(session, mode);
    Planner::new(&plans).relation(relation).await
}

/// A `PARTITIONED BY` term from a Spark Connect expression: a column, or a transform
/// (`days(ts)`, `bucket(16, id)`, ...) over a column.
pub fn partition_term(
    expr: &sparkling_proto::spark::Expression,
) -> Result<sparkling_sql::PartitionTerm> {
    use sparkling_proto::spark::expression::ExprType;
    use sparkling_proto::spark::expression::literal::LiteralType;
    use sparkling_sql::PartitionTerm;
    let argument = |e: &sparkling_proto::spark::Expression| match &e.expr_type {
        Some(ExprType::UnresolvedAttribute(a)) => Ok(a.unparsed_identifier.clone()),
        Some(ExprType::Literal(l)) => match &l.literal_type {
            Some(LiteralType::Integer(n)) => Ok(n.to_string()),
            Some(LiteralType::Long(n)) => Ok(n.to_string()),
            Some(LiteralType::Short(n) | LiteralType::Byte(n)) => Ok(n.to_string()),
            other => Err(ConnectError::InvalidInput(format!(
                "partition transform argument must be a column or an integer, got {other:?}"
            ))),
        },
        other => Err(ConnectError::InvalidInput(format!(
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
            return Err(ConnectError::InvalidInput(format!(
                "partitioning must be columns or transforms, got {other:?}"
            )));
        }
    };
    Ok(term?)
}
