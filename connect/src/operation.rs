//! Runs one `ExecutePlan` operation: a relation to execute, or a command (SQL
//! commands, temp views), sending its responses through a [`Responder`].

use std::sync::Arc;

use datafusion::execution::SendableRecordBatchStream;
use sparkling_proto::spark::{
    Command, LocalRelation, Plan, Relation, Sql, command, execute_plan_response, plan, relation,
};
use tokio::sync::watch;

use sparkling_engine::EngineError;
use sparkling_engine::session::Session;
use sparkling_engine::statement::{Mode, is_command, sql_plan};

use crate::Gateway;
use crate::arrow::batches_to_ipc;
use crate::relation::{partition_term, relation_plan};
use crate::responder::{Disconnected, Responder};

impl Gateway {
    /// Runs one `ExecutePlan` operation, sending its responses.
    pub(crate) async fn run_operation(
        &self,
        session: &Session,
        plan: Option<Plan>,
        out: &Responder,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<Result<(), EngineError>, Disconnected> {
        let op_type = match plan.and_then(|p| p.op_type) {
            Some(op) => op,
            None => {
                return Ok(Err(EngineError::InvalidInput(
                    "ExecutePlan without a plan".into(),
                )));
            }
        };
        match op_type {
            plan::OpType::Root(relation) => {
                let stream = match self
                    .relation_stream(session, relation, operation, &interrupted)
                    .await
                {
                    Ok(stream) => stream,
                    Err(e) => return Ok(Err(e)),
                };
                if let Err(e) = out.send_results(stream, &interrupted).await? {
                    return Ok(Err(e));
                }
            }
            plan::OpType::Command(cmd) => {
                if let Err(e) = self
                    .run_command(session, cmd, out, operation, &interrupted)
                    .await?
                {
                    return Ok(Err(e));
                }
            }
            plan::OpType::CompressedOperation(_) => {
                return Ok(Err(EngineError::Unsupported(
                    "compressed plans are not supported; disable plan compression in the client"
                        .into(),
                )));
            }
        }
        out.complete().await?;
        Ok(Ok(()))
    }

    async fn relation_stream(
        &self,
        session: &Session,
        relation: Relation,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<SendableRecordBatchStream, EngineError> {
        let plan = relation_plan(session, relation, Mode::Execute).await?;
        self.engine
            .execute(session, plan, operation, interrupted.clone())
            .await
    }

    async fn run_command(
        &self,
        session: &Session,
        cmd: Command,
        out: &Responder,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<(), EngineError>, Disconnected> {
        let Some(command_type) = cmd.command_type else {
            return Ok(Err(EngineError::InvalidInput("command has no type".into())));
        };
        match command_type {
            command::CommandType::SqlCommand(sql) => {
                #[allow(deprecated)]
                let query = match sql.input.and_then(|r| r.rel_type) {
                    Some(relation::RelType::Sql(s)) => s.query,
                    Some(_) => {
                        return Ok(Err(EngineError::Unsupported(
                            "SqlCommand input must be a SQL relation".into(),
                        )));
                    }
                    None => sql.sql,
                };
                self.sql_command(session, query, out, operation, interrupted)
                    .await
            }
            command::CommandType::CreateDataframeView(view) => {
                let result = async {
                    let input = view
                        .input
                        .ok_or_else(|| EngineError::InvalidInput("view without input".into()))?;
                    let plan = relation_plan(session, input, Mode::Execute).await?;
                    let table = datafusion::catalog::view::ViewTable::new(plan, None);
                    session.register_temp_view(&view.name, Arc::new(table), view.replace)
                }
                .await;
                Ok(result)
            }
            command::CommandType::WriteOperationV2(write) => {
                let result = async {
                    use sparkling_proto::spark::write_operation_v2::Mode as WriteMode;
                    let create = match WriteMode::try_from(write.mode) {
                        Ok(WriteMode::Append) => false,
                        Ok(WriteMode::Create) => true,
                        Ok(other) => {
                            return Err(EngineError::Unsupported(format!(
                                "writeTo(...) mode {} is not supported yet (append and create are)",
                                other.as_str_name()
                            )));
                        }
                        Err(_) => {
                            return Err(EngineError::InvalidInput(format!(
                                "unknown write mode {}",
                                write.mode
                            )));
                        }
                    };
                    if let Some(provider) = &write.provider
                        && !provider.eq_ignore_ascii_case("iceberg")
                    {
                        return Err(EngineError::Unsupported(format!(
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
                        .ok_or_else(|| EngineError::InvalidInput("write without input".into()))?;
                    let plan = relation_plan(session, input, Mode::Execute).await?;
                    sparkling_lakehouse::commands::write_v2(
                        self.cluster(),
                        session,
                        plan,
                        &write.table_name,
                        create,
                        partitioned_by,
                        write.table_properties.into_iter().collect(),
                        operation,
                        interrupted.clone(),
                    )
                    .await
                }
                .await;
                Ok(result)
            }
            command::CommandType::WriteStreamOperationStart(start) => {
                self.write_stream_start(session, start, out).await
            }
            command::CommandType::StreamingQueryCommand(query) => {
                self.streaming_query_command(query, out, interrupted).await
            }
            command::CommandType::StreamingQueryManagerCommand(manager) => {
                self.streaming_manager_command(manager, out, interrupted)
                    .await
            }
            other => {
                let name = format!("{other:?}");
                let name = name.split(['(', ' ', '{']).next().unwrap_or("unknown");
                Ok(Err(EngineError::Unsupported(format!(
                    "command {name} is not supported yet"
                ))))
            }
        }
    }

    /// Spark's `spark.sql(...)`: commands run now and return their result as a local
    /// relation; queries are only analyzed and returned as a SQL relation for the
    /// client to execute (with an empty batch carrying their schema).
    async fn sql_command(
        &self,
        session: &Session,
        query: String,
        out: &Responder,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<(), EngineError>, Disconnected> {
        let analyzed = match sql_plan(session, &query, Mode::Analyze).await {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        if !is_command(&analyzed) {
            let schema = Arc::clone(analyzed.schema().inner());
            out.send(
                out.response(execute_plan_response::ResponseType::SqlCommandResult(
                    execute_plan_response::SqlCommandResult {
                        relation: Some(Relation {
                            common: None,
                            rel_type: Some(relation::RelType::Sql(Sql {
                                query,
                                ..Default::default()
                            })),
                        }),
                    },
                )),
            )
            .await?;
            let empty = Box::pin(
                datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::empty(),
                ),
            );
            return out.send_results(empty, interrupted).await;
        }
        let result = async {
            let (schema, batches) = self
                .engine
                .run_statement(session, &query, operation, interrupted.clone())
                .await?;
            let data = batches_to_ipc(&schema, &batches)?;
            Ok::<_, EngineError>((schema, batches, data))
        }
        .await;
        let (schema, batches, data) = match result {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        out.send(
            out.response(execute_plan_response::ResponseType::SqlCommandResult(
                execute_plan_response::SqlCommandResult {
                    relation: Some(Relation {
                        common: None,
                        rel_type: Some(relation::RelType::LocalRelation(LocalRelation {
                            data: Some(data.into()),
                            schema: None,
                        })),
                    }),
                },
            )),
        )
        .await?;
        let stream = Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                schema,
                futures::stream::iter(batches.into_iter().map(Ok)),
            ),
        );
        out.send_results(stream, interrupted).await
    }
}
