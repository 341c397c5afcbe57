//! The lakehouse: Iceberg tables from SQL and streaming queries into them.
//!
//! - [`commands`] runs Spark's DDL (parsed by `sparkling_sql::ddl`, carried as the
//!   engine's `LakehouseCommand` nodes) against the Iceberg REST catalog;
//! - [`insert`] runs writes as distributed jobs and commits one snapshot each;
//! - [`streaming`] owns the cluster's streaming queries (micro-batches, exactly
//!   once across restarts) and their SQL;
//! - [`expectations`] checks pipeline datasets' data quality on each write.
//!
//! [`Lakehouse`] is the engine's [`CommandRunner`]: the engine hands it every plan
//! and runs what it gives back.

pub mod commands;
pub mod error;
pub mod expectations;
pub mod insert;
pub mod streaming;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use sparkling_engine::EngineError;
use sparkling_engine::command::LakehouseCommand;
use sparkling_engine::execute::{CommandRunner, Executed, Run};
use sparkling_engine::statement::plan_sql_in;

pub use error::{LakehouseError, Result};
pub use insert::{Append, JOB_ID_PROPERTY, WRITE_ID_PROPERTY, append, insert, insert_target};
use streaming::StreamingManager;

/// Runs lakehouse commands, streaming statements and writes into Iceberg tables for
/// the engine.
#[derive(Clone)]
pub struct Lakehouse {
    streams: StreamingManager,
}

impl Lakehouse {
    /// The runner, with `streams` for streaming statements.
    pub fn new(streams: StreamingManager) -> Self {
        Self { streams }
    }
}

#[async_trait]
impl CommandRunner for Lakehouse {
    async fn run(&self, run: &Run<'_>, plan: LogicalPlan) -> Result<Executed, EngineError> {
        let mut plan = plan;
        if let Some(command) = LakehouseCommand::of(&plan) {
            if streaming::sql::is_streaming(&command.statement) {
                let stream = streaming::sql::run(
                    &self.streams,
                    run.session,
                    &command.statement,
                    run.interrupted.clone(),
                )
                .await?;
                return Ok(Executed::Ran(stream));
            }
            let ran = commands::run(
                command,
                run.cluster,
                run.session,
                run.operation,
                run.interrupted.clone(),
            )
            .await?;
            match ran {
                Some(stream) => return Ok(Executed::Ran(stream)),
                // Not about an Iceberg table: DataFusion's own statement handles it.
                None => {
                    let sql = command.fallback_sql();
                    plan = plan_sql_in(&run.session.ctx.state(), false, &sql).await?;
                }
            }
        }
        if let Some(target) = insert_target(&plan) {
            let catalog = run.session.iceberg.as_ref().ok_or_else(|| {
                EngineError::Internal("an Iceberg table without an Iceberg catalog".into())
            })?;
            let stream = insert(
                run.cluster,
                run.session,
                catalog,
                plan,
                target,
                run.operation,
                run.interrupted.clone(),
            )
            .await?;
            return Ok(Executed::Ran(stream));
        }
        Ok(Executed::NotMine(Box::new(plan)))
    }
}
