//! Streaming queries from the SDK, after Spark's `readStream` / `writeStream`:
//!
//! ```no_run
//! # async fn demo(spark: sparkling_client::SparkSession) -> sparkling_client::Result<()> {
//! use sparkling_client::streaming::Trigger;
//! let events = spark
//!     .read_stream()
//!     .format("kafka")
//!     .option("kafka.bootstrap.servers", "127.0.0.1:9092")
//!     .option("subscribe", "listen_events")
//!     .load()?
//!     .select_expr(&["CAST(value AS STRING) AS json", "timestamp"]);
//! let query = events
//!     .write_stream()
//!     .to_table("bronze.raw_listens")
//!     .trigger(Trigger::ProcessingTime(std::time::Duration::from_secs(10)))
//!     .start()
//!     .await?;
//! println!("{:?}", query.status().await?);
//! # Ok(()) }
//! ```
//!
//! A streaming DataFrame is SQL over `STREAM(...)`: the cluster stores a query as SQL
//! so that it can resume it after a restart. Queries belong to the cluster: the
//! handle is an id, and any session can inspect or stop the query.

use sparkling_sql::names::quote_literal;
use std::collections::BTreeMap;
use std::time::Duration;

use sparkling_proto::spark::{
    Command, StreamingQueryCommand, StreamingQueryInstanceId, StreamingQueryManagerCommand,
    WriteStreamOperationStart, command, execute_plan_response, plan, streaming_query_command,
    streaming_query_command_result, streaming_query_manager_command,
    streaming_query_manager_command_result, write_stream_operation_start,
};

use crate::error::{ClientError, Result};
use crate::session::{SparkSession, sql_relation};

/// Reads a streaming source (`spark.readStream`).
pub struct DataStreamReader {
    session: SparkSession,
    format: Option<String>,
    options: BTreeMap<String, String>,
}

impl DataStreamReader {
    pub(crate) fn new(session: SparkSession) -> Self {
        Self {
            session,
            format: None,
            options: BTreeMap::new(),
        }
    }

    /// `kafka`, or `events` (the built-in event generator).
    pub fn format(mut self, format: &str) -> Self {
        self.format = Some(format.to_string());
        self
    }

    /// A source option (Spark's Kafka options; `kind`, `rate`, ... for events).
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// The stream as a DataFrame.
    pub fn load(self) -> Result<StreamingDataFrame> {
        let function = match self
            .format
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("kafka") => "read_kafka",
            Some("events") | Some("generate_events") => "generate_events",
            other => {
                return Err(ClientError::Plan(format!(
                    "streaming format {other:?} is not supported (kafka or events)"
                )));
            }
        };
        let args: Vec<String> = self
            .options
            .iter()
            .flat_map(|(k, v)| [quote_literal(k), quote_literal(v)])
            .collect();
        Ok(StreamingDataFrame {
            session: self.session,
            sql: format!("SELECT * FROM STREAM({function}({}))", args.join(", ")),
        })
    }
}

/// An unbounded DataFrame: SQL reading one `STREAM(...)` source.
#[derive(Clone)]
pub struct StreamingDataFrame {
    session: SparkSession,
    sql: String,
}

impl StreamingDataFrame {
    /// Its SQL.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    fn wrap(&self, select: &str, rest: &str) -> Self {
        Self {
            session: self.session.clone(),
            sql: format!("SELECT {select} FROM ({}) AS stream{rest}", self.sql),
        }
    }

    /// Spark's `selectExpr`: columns as SQL expressions.
    pub fn select_expr(&self, exprs: &[&str]) -> Self {
        self.wrap(&exprs.join(", "), "")
    }

    /// Keeps rows where the SQL `condition` holds.
    pub fn filter(&self, condition: &str) -> Self {
        self.wrap("*", &format!(" WHERE {condition}"))
    }

    /// Writes the stream (`df.writeStream`).
    pub fn write_stream(&self) -> DataStreamWriter {
        DataStreamWriter {
            df: self.clone(),
            table: None,
            trigger: None,
            query_name: None,
            options: BTreeMap::new(),
            partition_by: Vec::new(),
        }
    }
}

/// When a streaming query runs its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A batch every interval (zero: as soon as data is there).
    ProcessingTime(Duration),
    /// Everything there now, then stop.
    AvailableNow,
    /// One batch of everything there now, then stop.
    Once,
}

/// Starts a streaming query (`df.writeStream`).
pub struct DataStreamWriter {
    df: StreamingDataFrame,
    table: Option<String>,
    trigger: Option<Trigger>,
    query_name: Option<String>,
    options: BTreeMap<String, String>,
    partition_by: Vec<String>,
}

impl DataStreamWriter {
    /// The Iceberg table to append to (created from the stream's columns if missing).
    pub fn to_table(mut self, name: &str) -> Self {
        self.table = Some(name.to_string());
        self
    }

    /// The trigger (default: batches back to back).
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// The query's name (with the table, it identifies the query across restarts).
    pub fn query_name(mut self, name: &str) -> Self {
        self.query_name = Some(name.to_string());
        self
    }

    /// A writer option: `deadLetterTable` routes rows with a `_corrupt_record`.
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// Partition columns of a table the query creates.
    pub fn partition_by(mut self, columns: &[&str]) -> Self {
        self.partition_by = columns.iter().map(|c| c.to_string()).collect();
        self
    }

    /// Starts the query on the cluster.
    pub async fn start(self) -> Result<StreamingQuery> {
        let table = self
            .table
            .ok_or_else(|| ClientError::Plan("write_stream() needs to_table(name)".into()))?;
        use write_stream_operation_start::Trigger as Wire;
        let trigger = self.trigger.map(|t| match t {
            Trigger::ProcessingTime(d) => {
                Wire::ProcessingTimeInterval(format!("{} milliseconds", d.as_millis()))
            }
            Trigger::AvailableNow => Wire::AvailableNow(true),
            Trigger::Once => Wire::Once(true),
        });
        let start = WriteStreamOperationStart {
            input: Some(sql_relation(&self.df.sql)),
            format: "iceberg".to_string(),
            options: self.options.into_iter().collect(),
            partitioning_column_names: self.partition_by,
            trigger,
            output_mode: "append".to_string(),
            query_name: self.query_name.unwrap_or_default(),
            sink_destination: Some(write_stream_operation_start::SinkDestination::TableName(
                table,
            )),
            ..Default::default()
        };
        let session = self.df.session;
        let r = command_result(
            &session,
            command::CommandType::WriteStreamOperationStart(start),
            "WriteStreamOperationStartResult",
            |response| match response {
                execute_plan_response::ResponseType::WriteStreamOperationStartResult(r) => Some(r),
                _ => None,
            },
        )
        .await?;
        let id = r
            .query_id
            .ok_or_else(|| ClientError::Protocol("started query without an id".into()))?;
        Ok(StreamingQuery {
            session,
            id: id.id,
            run_id: id.run_id,
            name: r.name,
        })
    }
}

/// Sends a command and picks its result (`what`) out of the answer.
async fn command_result<T>(
    session: &SparkSession,
    command_type: command::CommandType,
    what: &str,
    pick: impl Fn(execute_plan_response::ResponseType) -> Option<T>,
) -> Result<T> {
    let result = session
        .execute(
            plan::OpType::Command(Command {
                command_type: Some(command_type),
            }),
            None,
        )
        .await?;
    result
        .other
        .into_iter()
        .find_map(pick)
        .ok_or_else(|| ClientError::Protocol(format!("no {what} in the answer")))
}

/// A query's status (Spark's `StreamingQueryStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryStatus {
    /// What it is doing.
    pub message: String,
    /// Whether its last trigger found data.
    pub is_data_available: bool,
    /// Whether a batch is running.
    pub is_trigger_active: bool,
    /// Whether it still runs.
    pub is_active: bool,
}

/// A handle on a streaming query running on the cluster.
#[derive(Clone)]
pub struct StreamingQuery {
    session: SparkSession,
    id: String,
    run_id: String,
    name: String,
}

impl StreamingQuery {
    /// Its id (stable across restarts).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of this run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn command(
        &self,
        command: streaming_query_command::Command,
    ) -> Result<Option<streaming_query_command_result::ResultType>> {
        command_result(
            &self.session,
            command::CommandType::StreamingQueryCommand(StreamingQueryCommand {
                query_id: Some(StreamingQueryInstanceId {
                    id: self.id.clone(),
                    run_id: self.run_id.clone(),
                }),
                command: Some(command),
            }),
            "StreamingQueryCommandResult",
            |response| match response {
                execute_plan_response::ResponseType::StreamingQueryCommandResult(r) => {
                    Some(r.result_type)
                }
                _ => None,
            },
        )
        .await
    }

    /// Spark's `status`.
    pub async fn status(&self) -> Result<QueryStatus> {
        match self
            .command(streaming_query_command::Command::Status(true))
            .await?
        {
            Some(streaming_query_command_result::ResultType::Status(s)) => Ok(QueryStatus {
                message: s.status_message,
                is_data_available: s.is_data_available,
                is_trigger_active: s.is_trigger_active,
                is_active: s.is_active,
            }),
            _ => Err(ClientError::Protocol("no status in the answer".into())),
        }
    }

    async fn progress(
        &self,
        command: streaming_query_command::Command,
    ) -> Result<Vec<serde_json::Value>> {
        match self.command(command).await? {
            Some(streaming_query_command_result::ResultType::RecentProgress(p)) => p
                .recent_progress_json
                .iter()
                .map(|j| {
                    serde_json::from_str(j)
                        .map_err(|e| ClientError::Protocol(format!("invalid progress JSON: {e}")))
                })
                .collect(),
            _ => Err(ClientError::Protocol("no progress in the answer".into())),
        }
    }

    /// Spark's `recentProgress` (Spark's `StreamingQueryProgress` JSON), oldest first.
    pub async fn recent_progress(&self) -> Result<Vec<serde_json::Value>> {
        self.progress(streaming_query_command::Command::RecentProgress(true))
            .await
    }

    /// Spark's `lastProgress`.
    pub async fn last_progress(&self) -> Result<Option<serde_json::Value>> {
        Ok(self
            .progress(streaming_query_command::Command::LastProgress(true))
            .await?
            .pop())
    }

    /// Stops the query for good (it does not resume after a scheduler restart).
    pub async fn stop(&self) -> Result<()> {
        self.command(streaming_query_command::Command::Stop(true))
            .await?;
        Ok(())
    }

    /// Waits until the query ends, at most `timeout`; whether it has ended. A query
    /// that failed makes this an error with its message.
    pub async fn await_termination(&self, timeout: Option<Duration>) -> Result<bool> {
        let result = self
            .command(streaming_query_command::Command::AwaitTermination(
                streaming_query_command::AwaitTerminationCommand {
                    timeout_ms: timeout.map(|t| t.as_millis() as i64),
                },
            ))
            .await?;
        let terminated = match result {
            Some(streaming_query_command_result::ResultType::AwaitTermination(r)) => r.terminated,
            _ => return Err(ClientError::Protocol("no termination in the answer".into())),
        };
        if terminated && let Some(e) = self.exception().await? {
            return Err(ClientError::Server {
                code: tonic::Code::Aborted,
                message: format!("streaming query {} failed: {e}", self.name),
            });
        }
        Ok(terminated)
    }

    /// The error the query failed with, if it failed.
    pub async fn exception(&self) -> Result<Option<String>> {
        match self
            .command(streaming_query_command::Command::Exception(true))
            .await?
        {
            Some(streaming_query_command_result::ResultType::Exception(e)) => {
                Ok(e.exception_message)
            }
            _ => Err(ClientError::Protocol("no exception in the answer".into())),
        }
    }
}

/// The cluster's streaming queries (`spark.streams`).
pub struct StreamingQueryManager {
    session: SparkSession,
}

impl StreamingQueryManager {
    pub(crate) fn new(session: SparkSession) -> Self {
        Self { session }
    }

    async fn command(
        &self,
        command: streaming_query_manager_command::Command,
    ) -> Result<Option<streaming_query_manager_command_result::ResultType>> {
        command_result(
            &self.session,
            command::CommandType::StreamingQueryManagerCommand(StreamingQueryManagerCommand {
                command: Some(command),
            }),
            "StreamingQueryManagerCommandResult",
            |response| match response {
                execute_plan_response::ResponseType::StreamingQueryManagerCommandResult(r) => {
                    Some(r.result_type)
                }
                _ => None,
            },
        )
        .await
    }

    fn handle(
        &self,
        instance: streaming_query_manager_command_result::StreamingQueryInstance,
    ) -> StreamingQuery {
        let id = instance.id.unwrap_or_default();
        StreamingQuery {
            session: self.session.clone(),
            id: id.id,
            run_id: id.run_id,
            name: instance.name.unwrap_or_default(),
        }
    }

    /// The queries running now.
    pub async fn active(&self) -> Result<Vec<StreamingQuery>> {
        match self
            .command(streaming_query_manager_command::Command::Active(true))
            .await?
        {
            Some(streaming_query_manager_command_result::ResultType::Active(a)) => Ok(a
                .active_queries
                .into_iter()
                .map(|q| self.handle(q))
                .collect()),
            _ => Err(ClientError::Protocol(
                "no active queries in the answer".into(),
            )),
        }
    }

    /// The query with this id.
    pub async fn get(&self, id: &str) -> Result<StreamingQuery> {
        match self
            .command(streaming_query_manager_command::Command::GetQuery(
                id.to_string(),
            ))
            .await?
        {
            Some(streaming_query_manager_command_result::ResultType::Query(q)) => {
                Ok(self.handle(q))
            }
            _ => Err(ClientError::Protocol("no query in the answer".into())),
        }
    }
}
