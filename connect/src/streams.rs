//! Spark Connect's streaming commands: `WriteStreamOperationStart`
//! (`df.writeStream.toTable(...)`), `StreamingQueryCommand` (status, progress, stop,
//! await, exception of one query) and `StreamingQueryManagerCommand` (`spark.streams`:
//! active queries, get by id, await any termination).
//!
//! Queries belong to the cluster: any session can look at or stop any query by id.
//! A stream's input must be SQL reading `STREAM(...)` (what the Rust SDK's
//! `read_stream` builds), because the scheduler stores the query as SQL to resume it.

use std::time::Duration;

use sparkling_proto::spark::streaming_query_command::Command as QueryCommand;
use sparkling_proto::spark::streaming_query_command_result::{
    AwaitTerminationResult, ExceptionResult, RecentProgressResult, ResultType as QueryResult,
    StatusResult,
};
use sparkling_proto::spark::streaming_query_manager_command::Command as ManagerCommand;
use sparkling_proto::spark::streaming_query_manager_command_result::{
    ActiveResult, AwaitAnyTerminationResult, ResultType as ManagerResult, StreamingQueryInstance,
};
use sparkling_proto::spark::write_stream_operation_start::{
    SinkDestination, Trigger as WireTrigger,
};
use sparkling_proto::spark::{
    StreamingQueryCommand, StreamingQueryCommandResult, StreamingQueryInstanceId,
    StreamingQueryManagerCommand, StreamingQueryManagerCommandResult, WriteStreamOperationStart,
    WriteStreamOperationStartResult, execute_plan_response, relation,
};
use sparkling_sql::PartitionTerm;
use tokio::sync::watch;

use crate::Gateway;
use crate::error::{ConnectError, Result};
use crate::responder::{Disconnected, Responder};
use sparkling_engine::session::Session;
use sparkling_lakehouse::streaming::sql::{
    StartRequest, catalog, check_query, create_target, parse_table_name, start_query,
};
use sparkling_lakehouse::streaming::{QueryHandle, Trigger};

/// Writer option naming the dead-letter table (`.option("deadLetterTable", "ns.t")`).
const DEAD_LETTER_OPTION: &str = "deadLetterTable";

fn instance_id(handle: &QueryHandle) -> StreamingQueryInstanceId {
    StreamingQueryInstanceId {
        id: handle.definition.id.clone(),
        run_id: handle.run_id.clone(),
    }
}

/// Answers a `StreamingQueryCommand`.
async fn send_query_result(
    out: &Responder,
    query_id: Option<StreamingQueryInstanceId>,
    result_type: Option<QueryResult>,
) -> Result<(), Disconnected> {
    out.send(out.response(
        execute_plan_response::ResponseType::StreamingQueryCommandResult(
            StreamingQueryCommandResult {
                query_id,
                result_type,
            },
        ),
    ))
    .await
}

impl Gateway {
    /// `df.writeStream...toTable(name)`: starts a query; answers with its id.
    pub(crate) async fn write_stream_start(
        &self,
        session: &Session,
        start: WriteStreamOperationStart,
        out: &Responder,
    ) -> Result<Result<()>, Disconnected> {
        let started = self.start_stream(session, start).await;
        let handle = match started {
            Ok(handle) => handle,
            Err(e) => return Ok(Err(e)),
        };
        out.send(out.response(
            execute_plan_response::ResponseType::WriteStreamOperationStartResult(
                WriteStreamOperationStartResult {
                    query_id: Some(instance_id(&handle)),
                    name: handle.definition.name.clone(),
                    query_started_event_json: None,
                },
            ),
        ))
        .await?;
        Ok(Ok(()))
    }

    async fn start_stream(
        &self,
        session: &Session,
        start: WriteStreamOperationStart,
    ) -> Result<std::sync::Arc<QueryHandle>> {
        let Some(SinkDestination::TableName(table)) = start.sink_destination else {
            return Err(ConnectError::Unsupported(
                "streaming queries write Iceberg tables: use toTable(name), not a path".into(),
            ));
        };
        if !start.format.is_empty() && !start.format.eq_ignore_ascii_case("iceberg") {
            return Err(ConnectError::Unsupported(format!(
                "streaming sink format {} is not supported; tables are Iceberg tables",
                start.format
            )));
        }
        if !matches!(
            start.output_mode.to_ascii_lowercase().as_str(),
            "" | "append"
        ) {
            return Err(ConnectError::Unsupported(format!(
                "output mode {} is not supported; streaming queries append",
                start.output_mode
            )));
        }
        if start.foreach_batch.is_some() || start.foreach_writer.is_some() {
            return Err(ConnectError::Unsupported(
                "foreach and foreachBatch sinks are not supported".into(),
            ));
        }
        #[allow(deprecated)]
        let query = match start.input.and_then(|r| r.rel_type) {
            Some(relation::RelType::Sql(sql)) => sql.query,
            _ => {
                return Err(ConnectError::Unsupported(
                    "a streaming query's input must be SQL reading STREAM(...) (the Rust SDK's \
                     read_stream builds it); other plans cannot be stored to resume"
                        .into(),
                ));
            }
        };
        let trigger = match start.trigger {
            None => Trigger::default(),
            Some(WireTrigger::ProcessingTimeInterval(interval)) => {
                Trigger::parse(&format!("processingTime={interval}"))?
            }
            Some(WireTrigger::AvailableNow(true)) => Trigger::AvailableNow,
            Some(WireTrigger::Once(true)) => Trigger::Once,
            Some(WireTrigger::AvailableNow(false) | WireTrigger::Once(false)) => Trigger::default(),
            Some(other) => {
                return Err(ConnectError::Unsupported(format!(
                    "trigger {other:?} is not supported (processing time, available-now and \
                     once are)"
                )));
            }
        };
        let target = parse_table_name(&table)?;
        let dead_letter = start
            .options
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(DEAD_LETTER_OPTION))
            .map(|(_, v)| parse_table_name(v))
            .transpose()?;
        let plan = check_query(session, &query).await?;
        let request = StartRequest {
            name: if start.query_name.is_empty() {
                target.name.clone()
            } else {
                start.query_name.clone()
            },
            target,
            query,
            trigger,
            dead_letter,
            expectations: Vec::new(),
        };
        // Spark's toTable creates the table when it does not exist.
        if catalog(session)?
            .load(&request.target.namespace, &request.target.name)
            .await?
            .is_none()
        {
            let partitioned_by = start
                .partitioning_column_names
                .iter()
                .map(|c| {
                    PartitionTerm::parse(None, std::slice::from_ref(c)).map_err(ConnectError::from)
                })
                .collect::<Result<Vec<_>, _>>()?;
            create_target(
                session,
                &request,
                &plan,
                partitioned_by,
                Default::default(),
                None,
            )
            .await?;
        }
        Ok(start_query(&self.streams, request)?)
    }

    fn query(&self, id: Option<&StreamingQueryInstanceId>) -> Result<std::sync::Arc<QueryHandle>> {
        let id = id.ok_or_else(|| {
            ConnectError::InvalidInput("streaming query command without a query id".into())
        })?;
        self.streams.get(&id.id).ok_or_else(|| {
            ConnectError::InvalidInput(format!(
                "no streaming query with id {} is known to this scheduler",
                id.id
            ))
        })
    }

    /// `query.status`, `.lastProgress`, `.stop()`, `.awaitTermination()`, ...
    pub(crate) async fn streaming_query_command(
        &self,
        command: StreamingQueryCommand,
        out: &Responder,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let handle = match self.query(command.query_id.as_ref()) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        // A handle on an earlier run: that run has ended; it must not act on this one.
        let asked_run = command
            .query_id
            .as_ref()
            .map(|id| id.run_id.as_str())
            .unwrap_or_default();
        if !asked_run.is_empty() && asked_run != handle.run_id {
            let result = match command.command {
                Some(QueryCommand::AwaitTermination(_)) => {
                    QueryResult::AwaitTermination(AwaitTerminationResult { terminated: true })
                }
                Some(QueryCommand::Status(_)) => QueryResult::Status(StatusResult {
                    status_message: "Stopped".into(),
                    is_data_available: false,
                    is_trigger_active: false,
                    is_active: false,
                }),
                _ => {
                    return Ok(Err(ConnectError::InvalidInput(format!(
                        "run {asked_run} of streaming query {} has ended (run {} is the \
                         current one; get it with spark.streams.get)",
                        handle.definition.id, handle.run_id
                    ))));
                }
            };
            send_query_result(out, command.query_id.clone(), Some(result)).await?;
            return Ok(Ok(()));
        }
        let result = match command.command {
            Some(QueryCommand::Status(_)) => {
                let status = handle.status();
                QueryResult::Status(StatusResult {
                    status_message: status.message,
                    is_data_available: status.is_data_available,
                    is_trigger_active: status.is_trigger_active,
                    is_active: handle.is_active(),
                })
            }
            Some(QueryCommand::LastProgress(_)) => {
                QueryResult::RecentProgress(RecentProgressResult {
                    recent_progress_json: match handle.last_progress().map(|p| p.json()).transpose()
                    {
                        Ok(json) => json.into_iter().collect(),
                        Err(e) => return Ok(Err(progress_error(e))),
                    },
                })
            }
            Some(QueryCommand::RecentProgress(_)) => {
                QueryResult::RecentProgress(RecentProgressResult {
                    recent_progress_json: match handle
                        .recent_progress()
                        .iter()
                        .map(|p| p.json())
                        .collect()
                    {
                        Ok(json) => json,
                        Err(e) => return Ok(Err(progress_error(e))),
                    },
                })
            }
            Some(QueryCommand::Stop(_)) => {
                if let Err(e) = self.streams.stop(&handle.definition.id).await {
                    return Ok(Err(e.into()));
                }
                // Spark answers a stop with the query id only.
                send_query_result(out, Some(instance_id(&handle)), None).await?;
                return Ok(Ok(()));
            }
            Some(QueryCommand::ProcessAllAvailable(_)) => {
                return Ok(Err(ConnectError::Unsupported(
                    "processAllAvailable is not supported; use trigger(availableNow=True) and \
                     awaitTermination()"
                        .into(),
                )));
            }
            Some(QueryCommand::Explain(_)) => QueryResult::Explain(
                sparkling_proto::spark::streaming_query_command_result::ExplainResult {
                    result: format!(
                        "streaming query {} ({}) into {}, trigger {}:\n{}",
                        handle.definition.name,
                        handle.definition.id,
                        handle.definition.target,
                        handle.definition.trigger,
                        handle.definition.query
                    ),
                },
            ),
            Some(QueryCommand::Exception(_)) => QueryResult::Exception(ExceptionResult {
                exception_message: handle.exception(),
                error_class: handle.exception().map(|_| "STREAM_FAILED".to_string()),
                stack_trace: None,
            }),
            Some(QueryCommand::AwaitTermination(wait)) => {
                let timeout = wait
                    .timeout_ms
                    .map(|ms| Duration::from_millis(ms.max(0) as u64));
                let mut interrupted = interrupted.clone();
                let terminated = tokio::select! {
                    ended = handle.await_end(timeout) => ended,
                    _ = async { let _ = interrupted.wait_for(|v| *v).await; } => {
                        return Ok(Err(ConnectError::Cancelled("awaitTermination interrupted".into())));
                    }
                };
                QueryResult::AwaitTermination(AwaitTerminationResult { terminated })
            }
            None => {
                return Ok(Err(ConnectError::InvalidInput(
                    "streaming query command without a command".into(),
                )));
            }
        };
        send_query_result(out, Some(instance_id(&handle)), Some(result)).await?;
        Ok(Ok(()))
    }

    /// `spark.streams.active`, `.get(id)`, `.awaitAnyTermination()`.
    pub(crate) async fn streaming_manager_command(
        &self,
        command: StreamingQueryManagerCommand,
        out: &Responder,
        interrupted: &watch::Receiver<bool>,
    ) -> Result<Result<()>, Disconnected> {
        let instance = |h: &QueryHandle| StreamingQueryInstance {
            id: Some(instance_id(h)),
            name: Some(h.definition.name.clone()),
        };
        let result = match command.command {
            Some(ManagerCommand::Active(_)) => ManagerResult::Active(ActiveResult {
                active_queries: self
                    .streams
                    .list()
                    .iter()
                    .filter_map(|q| q.handle.as_ref().filter(|h| h.is_active()))
                    .map(|h| instance(h))
                    .collect(),
            }),
            Some(ManagerCommand::GetQuery(id)) => match self.streams.get(&id) {
                Some(h) => ManagerResult::Query(instance(&h)),
                None => {
                    return Ok(Err(ConnectError::InvalidInput(format!(
                        "no streaming query with id {id} is known to this scheduler"
                    ))));
                }
            },
            Some(ManagerCommand::AwaitAnyTermination(wait)) => {
                let deadline = wait.timeout_ms.map(|ms| {
                    tokio::time::Instant::now() + Duration::from_millis(ms.max(0) as u64)
                });
                let terminated = loop {
                    if self.streams.any_terminated() {
                        break true;
                    }
                    if deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
                        || *interrupted.borrow()
                    {
                        break false;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                };
                ManagerResult::AwaitAnyTermination(AwaitAnyTerminationResult { terminated })
            }
            Some(ManagerCommand::ResetTerminated(_)) => {
                self.streams.reset_terminated();
                ManagerResult::ResetTerminated(true)
            }
            Some(_) => {
                return Ok(Err(ConnectError::Unsupported(
                    "streaming query listeners are not supported".into(),
                )));
            }
            None => {
                return Ok(Err(ConnectError::InvalidInput(
                    "streaming manager command without a command".into(),
                )));
            }
        };
        out.send(out.response(
            execute_plan_response::ResponseType::StreamingQueryManagerCommandResult(
                StreamingQueryManagerCommandResult {
                    result_type: Some(result),
                },
            ),
        ))
        .await?;
        Ok(Ok(()))
    }
}

/// A progress report that did not serialize.
fn progress_error(e: serde_json::Error) -> ConnectError {
    ConnectError::Internal(format!("writing a progress report as JSON: {e}"))
}
