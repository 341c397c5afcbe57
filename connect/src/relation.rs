//! Spark Connect relations as DataFusion logical plans in a session: SQL, ranges,
//! inline Arrow data, table and file reads, limits, and the DataFusion plans the Rust
//! SDK sends in `Relation.extension`; and `PARTITIONED BY` terms of writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use sparkling_engine::EngineError;
use sparkling_engine::bind::{ipc_to_batches, native_plan};
use sparkling_engine::session::Session;
use sparkling_engine::statement::{Mode, range_plan, read_files, sql_plan};
use sparkling_proto::extension::LOGICAL_PLAN_TYPE_URL;
use sparkling_proto::spark::{Relation, read, relation};

/// The logical plan of a relation.
pub async fn relation_plan(
    session: &Session,
    relation: Relation,
    mode: Mode,
) -> Result<LogicalPlan, EngineError> {
    let Some(rel_type) = relation.rel_type else {
        return Err(EngineError::InvalidInput(
            "relation has no type".to_string(),
        ));
    };
    match rel_type {
        relation::RelType::Sql(sql) => {
            if !sql.named_arguments.is_empty() || !sql.pos_arguments.is_empty() {
                return Err(EngineError::Unsupported(
                    "parameterized SQL (named or positional arguments) is not supported yet".into(),
                ));
            }
            sql_plan(session, &sql.query, mode).await
        }
        relation::RelType::Range(range) => {
            if range.step == 0 {
                return Err(EngineError::InvalidInput("range step must not be 0".into()));
            }
            range_plan(session, range.start.unwrap_or(0), range.end, range.step).await
        }
        relation::RelType::LocalRelation(local) => {
            let Some(data) = local.data else {
                return Err(EngineError::Unsupported(
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
                    return Err(EngineError::Unsupported(
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
            None => Err(EngineError::InvalidInput(
                "read relation without a source".into(),
            )),
        },
        relation::RelType::Limit(limit) => {
            let input = limit
                .input
                .ok_or_else(|| EngineError::InvalidInput("limit without input".into()))?;
            if limit.limit < 0 {
                return Err(EngineError::InvalidInput(format!(
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
                return Err(EngineError::Unsupported(format!(
                    "unknown relation extension {:?} (expected {LOGICAL_PLAN_TYPE_URL})",
                    any.type_url
                )));
            }
            native_plan(session, &any.value).await
        }
        other => Err(EngineError::Unsupported(format!(
            "relation type {} is not supported yet",
            relation_name(&other)
        ))),
    }
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
) -> Result<sparkling_sql::PartitionTerm, EngineError> {
    use sparkling_proto::spark::expression::ExprType;
    use sparkling_proto::spark::expression::literal::LiteralType;
    use sparkling_sql::PartitionTerm;
    let argument = |e: &sparkling_proto::spark::Expression| match &e.expr_type {
        Some(ExprType::UnresolvedAttribute(a)) => Ok(a.unparsed_identifier.clone()),
        Some(ExprType::Literal(l)) => match &l.literal_type {
            Some(LiteralType::Integer(n)) => Ok(n.to_string()),
            Some(LiteralType::Long(n)) => Ok(n.to_string()),
            Some(LiteralType::Short(n) | LiteralType::Byte(n)) => Ok(n.to_string()),
            other => Err(EngineError::InvalidInput(format!(
                "partition transform argument must be a column or an integer, got {other:?}"
            ))),
        },
        other => Err(EngineError::InvalidInput(format!(
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
            return Err(EngineError::InvalidInput(format!(
                "partitioning must be columns or transforms, got {other:?}"
            )));
        }
    };
    Ok(term?)
}
