//! Runs one `ExecutePlan` operation: a relation to execute, or a command (SQL
//! commands, temp views), sending its responses through a [`Responder`].

use std::sync::Arc;

use datafusion::execution::SendableRecordBatchStream;
use sparkling_proto::spark::{
    Command, LocalRelation, Plan, Relation, Sql, command, execute_plan_response, plan, relation,
};
use tokio::sync::watch;

use crate::error::{ConnectError, Result};
use sparkling_engine::session::Session;
use sparkling_engine::statement::{Mode, is_command, sql_plan};

use crate::Gateway;
use crate::arrow::batches_to_ipc;
use crate::relation::{observed_root_plan, relation_plan};
use crate::responder::{Disconnected, Responder};
use sparkling_spark::Planned;

impl Gateway {
    /// Runs one `ExecutePlan` operation, sending its responses.
    pub(crate) async fn run_operation(
        &self,
        session: &Session,
        plan: Option<Plan>,
        out: &Responder,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let op_type = match plan.and_then(|p| p.op_type) {
            Some(op) => op,
            None => {
                return Ok(Err(ConnectError::InvalidInput(
                    "ExecutePlan without a plan".into(),
                )));
            }
        };
        match op_type {
            plan::OpType::Root(relation) => {
                let (stream, observations) = match self
                    .relation_stream(session, relation, operation, &interrupted)
                    .await
                {
                    Ok(found) => found,
                    Err(e) => return Ok(Err(e)),
                };
                if let Err(e) = out.send_results(stream, &interrupted).await? {
                    return Ok(Err(e));
                }
                for observation in observations {
                    let response = match self
                        .observed_metrics(session, observation, operation, &interrupted)
                        .await
                    {
                        Ok(metrics) => out.observed(metrics),
                        Err(e) => return Ok(Err(e)),
                    };
                    out.send(response).await?;
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
                return Ok(Err(ConnectError::Unsupported(
                    "compressed plans are not supported; disable plan compression in the client"
                        .into(),
                )));
            }
        }
        out.complete().await?;
        Ok(Ok(()))
    }

    /// Runs `plan` to the end: its column names and all its rows (a `show()`'s, an
    /// observation's: small results).
    async fn collected(
        &self,
        session: &Session,
        plan: datafusion::logical_expr::LogicalPlan,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<(Vec<String>, Vec<arrow::record_batch::RecordBatch>)> {
        let names = plan
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let stream = self
            .engine
            .execute(session, plan, operation, interrupted.clone())
            .await?;
        let batches = datafusion::physical_plan::common::collect(stream)
            .await
            .map_err(sparkling_engine::EngineError::from)?;
        Ok((names, batches))
    }

    /// The metrics of one observation (`df.observe`), computed over what the query
    /// read, as PySpark's `Observation.get` reads them.
    async fn observed_metrics(
        &self,
        session: &Session,
        observation: sparkling_spark::Observation,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<sparkling_proto::spark::execute_plan_response::ObservedMetrics> {
        let (keys, batches) = self
            .collected(session, observation.plan, operation, interrupted)
            .await?;
        let batch = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| ConnectError::Internal("observed metrics without a row".into()))?;
        let mut values = Vec::with_capacity(keys.len());
        for column in batch.columns() {
            let value = datafusion::common::ScalarValue::try_from_array(column, 0)
                .map_err(sparkling_engine::EngineError::from)?;
            values.push(sparkling_spark::literal::from_scalar(&value)?);
        }
        Ok(
            sparkling_proto::spark::execute_plan_response::ObservedMetrics {
                name: observation.name,
                values,
                keys,
                plan_id: observation.plan_id,
                ..Default::default()
            },
        )
    }

    async fn relation_stream(
        &self,
        session: &Session,
        relation: Relation,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<(SendableRecordBatchStream, Vec<sparkling_spark::Observation>)> {
        let (planned, observations) = observed_root_plan(session, relation, Mode::Execute).await?;
        let stream = self
            .planned_stream(session, planned, operation, interrupted)
            .await?;
        Ok((stream, observations))
    }

    async fn planned_stream(
        &self,
        session: &Session,
        planned: Planned,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<SendableRecordBatchStream> {
        match planned {
            Planned::Plan(plan) => Ok(self
                .engine
                .execute(session, plan, operation, interrupted.clone())
                .await?),
            Planned::Show {
                plan,
                num_rows,
                truncate,
                vertical,
                html,
            } => {
                let (names, batches) = self
                    .collected(session, plan, operation, interrupted)
                    .await?;
                let options = sparkling_spark::show::ShowOptions {
                    num_rows,
                    truncate,
                    vertical,
                    time_zone: session_time_zone(session),
                };
                let text = if html {
                    sparkling_spark::show::html_string(&names, &batches, &options)
                } else {
                    sparkling_spark::show::show_string(&names, &batches, &options)
                };
                let column: &str = if html { "html_string" } else { "show_string" };
                let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
                    arrow::datatypes::Field::new(column, arrow::datatypes::DataType::Utf8, false),
                ]));
                let batch = arrow::record_batch::RecordBatch::try_new(
                    std::sync::Arc::clone(&schema),
                    vec![std::sync::Arc::new(arrow::array::StringArray::from(vec![
                        text,
                    ]))],
                )
                .map_err(|e| ConnectError::Internal(e.to_string()))?;
                Ok(Box::pin(
                    datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                        schema,
                        futures::stream::iter([Ok(batch)]),
                    ),
                ))
            }
        }
    }

    async fn run_command(
        &self,
        session: &Session,
        cmd: Command,
        out: &Responder,
        operation: &Arc<sparkling_engine::session::Operation>,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let Some(command_type) = cmd.command_type else {
            return Ok(Err(ConnectError::InvalidInput(
                "command has no type".into(),
            )));
        };
        match command_type {
            command::CommandType::SqlCommand(sql) => {
                #[allow(deprecated)]
                let relation = match sql.input.map(|r| (r.rel_type.clone(), r)) {
                    Some((Some(relation::RelType::Sql(s)), _)) => s,
                    // `spark.sql("... {df} ...", df=df)`: a query over DataFrames, which
                    // the client runs as the relation it sent.
                    Some((_, input)) => {
                        return self.query_relation(session, input, out, interrupted).await;
                    }
                    None => Sql {
                        query: sql.sql,
                        args: sql.args,
                        pos_args: sql.pos_args,
                        named_arguments: sql.named_arguments,
                        pos_arguments: sql.pos_arguments,
                    },
                };
                let query = match sparkling_spark::plan::bound_sql(&relation) {
                    Ok(query) => query,
                    Err(e) => return Ok(Err(e.into())),
                };
                self.sql_command(session, query, out, operation, interrupted)
                    .await
            }
            command::CommandType::CreateDataframeView(view) => {
                let result = async {
                    let input = view
                        .input
                        .ok_or_else(|| ConnectError::InvalidInput("view without input".into()))?;
                    let plan = relation_plan(session, input, Mode::Execute).await?;
                    let table = Arc::new(datafusion::catalog::view::ViewTable::new(plan, None));
                    if view.is_global {
                        session.register_global_temp_view(&view.name, table, view.replace)?;
                    } else {
                        session.register_temp_view(&view.name, table, view.replace)?;
                    }
                    Ok::<_, ConnectError>(())
                }
                .await;
                Ok(result)
            }
            command::CommandType::WriteOperationV2(write) => Ok(self
                .write_v2(session, write, operation, interrupted.clone())
                .await),
            command::CommandType::WriteOperation(write) => Ok(self
                .write(session, write, operation, interrupted.clone())
                .await),
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
                let name = sparkling_spark::names::variant_name(&other);
                Ok(Err(ConnectError::Unsupported(format!(
                    "command {name} is not supported yet"
                ))))
            }
        }
    }

    /// A `spark.sql(...)` query sent as a relation (with the DataFrames it reads):
    /// analyzed now, returned for the client to execute.
    async fn query_relation(
        &self,
        session: &Session,
        input: Relation,
        out: &Responder,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let analyzed = match relation_plan(session, input.clone(), Mode::Analyze).await {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        let schema = Arc::clone(analyzed.schema().inner());
        out.send(
            out.response(execute_plan_response::ResponseType::SqlCommandResult(
                execute_plan_response::SqlCommandResult {
                    relation: Some(input),
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
        out.send_results(empty, interrupted).await
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
    ) -> Result<Result<()>, Disconnected> {
        let analyzed = match sql_plan(session, &query, Mode::Analyze).await {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e.into())),
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
            Ok::<_, ConnectError>((schema, batches, data))
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

/// The session's time zone (`spark.sql.session.timeZone`), for showing timestamps.
pub(crate) fn session_time_zone(session: &Session) -> Option<String> {
    session
        .ctx
        .state()
        .config_options()
        .execution
        .time_zone
        .clone()
        .filter(|z| !z.is_empty())
}
