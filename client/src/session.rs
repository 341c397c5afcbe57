//! A Spark Connect session: the gRPC channel, the session id, and the calls that send
//! plans and read Arrow results back.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use futures::StreamExt;
use sparkling_plan::{RemoteSource, RemoteTable};
use sparkling_proto::spark::spark_connect_service_client::SparkConnectServiceClient;
use sparkling_proto::spark::{
    AnalyzePlanRequest, Command, ConfigRequest, ExecutePlanRequest, InterruptRequest, KeyValue,
    Limit, Plan, Read, Relation, ReleaseSessionRequest, Sql, SqlCommand, UserContext,
    analyze_plan_request, command, config_request, execute_plan_response, interrupt_request, plan,
    read, relation,
};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::dataframe::DataFrame;
use crate::error::{ClientError, Result};
use crate::remote::RemoteUrl;

/// Largest message the client accepts.
const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// Adds the bearer token and metadata parameters to every call.
#[derive(Clone)]
struct Headers {
    entries: Vec<(String, String)>,
}

impl Interceptor for Headers {
    fn call(
        &mut self,
        mut req: tonic::Request<()>,
    ) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        for (k, v) in &self.entries {
            if let (Ok(key), Ok(value)) = (
                k.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
                v.parse::<MetadataValue<tonic::metadata::Ascii>>(),
            ) {
                req.metadata_mut().insert(key, value);
            }
        }
        Ok(req)
    }
}

type Client = SparkConnectServiceClient<InterceptedService<Channel, Headers>>;

/// A session with a Spark Connect gateway.
#[derive(Clone)]
pub struct SparkSession {
    client: Client,
    session_id: String,
    user_id: String,
    url: RemoteUrl,
}

/// The result of executing a plan: its schema and batches.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// Result schema.
    pub schema: SchemaRef,
    /// Result rows.
    pub batches: Vec<RecordBatch>,
}

impl SparkSession {
    /// Connects to `url` (`sc://host:port[/;token=...]`).
    pub async fn connect(url: &str) -> Result<Self> {
        let url = RemoteUrl::parse(url)?;
        let endpoint = url.endpoint();
        let channel = Channel::from_shared(endpoint.clone())
            .map_err(|e| ClientError::InvalidUrl(format!("{endpoint}: {e}")))?
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| ClientError::Connect {
                endpoint: endpoint.clone(),
                message: std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| e.to_string()),
            })?;
        let mut entries: Vec<(String, String)> = url
            .params
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if let Some(token) = &url.token {
            entries.push(("authorization".into(), format!("Bearer {token}")));
        }
        let client = SparkConnectServiceClient::with_interceptor(channel, Headers { entries })
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Ok(Self {
            client,
            session_id: url
                .session_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            user_id: url
                .user_id
                .clone()
                .unwrap_or_else(|| "sparkling".to_string()),
            url,
        })
    }

    /// Connects to `$SPARK_REMOTE`, or `sc://127.0.0.1:15002`.
    pub async fn from_env() -> Result<Self> {
        let url =
            std::env::var("SPARK_REMOTE").unwrap_or_else(|_| "sc://127.0.0.1:15002".to_string());
        Self::connect(&url).await
    }

    /// The session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The URL this session connected to.
    pub fn url(&self) -> &RemoteUrl {
        &self.url
    }

    fn user_context(&self) -> Option<UserContext> {
        Some(UserContext {
            user_id: self.user_id.clone(),
            user_name: self.user_id.clone(),
            ..Default::default()
        })
    }

    /// Executes a plan, returning the stream of its responses' batches.
    pub(crate) async fn execute(
        &self,
        op: plan::OpType,
        operation_id: Option<String>,
    ) -> Result<ExecuteResult> {
        let request = ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: self.user_context(),
            operation_id,
            plan: Some(Plan { op_type: Some(op) }),
            client_type: Some(format!("sparkling-rust/{}", env!("CARGO_PKG_VERSION"))),
            ..Default::default()
        };
        let mut stream = self
            .client
            .clone()
            .execute_plan(request)
            .await?
            .into_inner();
        let mut result = ExecuteResult::default();
        while let Some(response) = stream.next().await {
            let response = response?;
            match response.response_type {
                Some(execute_plan_response::ResponseType::ArrowBatch(batch)) => {
                    let reader = StreamReader::try_new(Cursor::new(batch.data.to_vec()), None)?;
                    result.schema.get_or_insert_with(|| reader.schema());
                    for b in reader {
                        let b = b?;
                        if b.num_rows() > 0 {
                            result.batches.push(b);
                        }
                    }
                }
                Some(execute_plan_response::ResponseType::SqlCommandResult(r)) => {
                    result.sql_command_result = r.relation;
                }
                Some(execute_plan_response::ResponseType::ResultComplete(_)) => {
                    result.complete = true;
                }
                Some(other) => result.other.push(other),
                None => {}
            }
        }
        if !result.complete {
            return Err(ClientError::Protocol(
                "result stream ended before it was complete".into(),
            ));
        }
        Ok(result)
    }

    /// Executes a relation and collects its result.
    pub async fn collect_relation(&self, relation: Relation) -> Result<QueryResult> {
        let r = self.execute(plan::OpType::Root(relation), None).await?;
        let schema = r
            .schema
            .ok_or_else(|| ClientError::Protocol("result without schema".into()))?;
        Ok(QueryResult {
            schema,
            batches: r.batches,
        })
    }

    /// Executes a relation as operation `operation_id` (so it can be interrupted).
    pub async fn collect_relation_as(
        &self,
        relation: Relation,
        operation_id: &str,
    ) -> Result<QueryResult> {
        let r = self
            .execute(plan::OpType::Root(relation), Some(operation_id.to_string()))
            .await?;
        let schema = r
            .schema
            .ok_or_else(|| ClientError::Protocol("result without schema".into()))?;
        Ok(QueryResult {
            schema,
            batches: r.batches,
        })
    }

    /// Runs one SQL statement and collects its result (DDL runs too).
    pub async fn run_sql(&self, query: &str) -> Result<QueryResult> {
        self.collect_relation(sql_relation(query)).await
    }

    /// Spark's `spark.sql(...)`: commands run now; queries become a DataFrame.
    pub async fn sql(&self, query: &str) -> Result<DataFrame> {
        let cmd = Command {
            command_type: Some(command::CommandType::SqlCommand(SqlCommand {
                input: Some(sql_relation(query)),
                ..Default::default()
            })),
        };
        let r = self.execute(plan::OpType::Command(cmd), None).await?;
        let schema = r
            .schema
            .ok_or_else(|| ClientError::Protocol("SQL command result without schema".into()))?;
        match r.sql_command_result.and_then(|rel| rel.rel_type) {
            Some(relation::RelType::Sql(sql)) => {
                self.remote_frame(RemoteSource::Sql(sql.query), schema)
            }
            Some(relation::RelType::LocalRelation(local)) => {
                let data = local.data.map(|d| d.to_vec()).unwrap_or_default();
                self.remote_frame(RemoteSource::Local(data), schema)
            }
            _ => Err(ClientError::Protocol(
                "SQL command without a result relation".into(),
            )),
        }
    }

    /// A DataFrame over a table or view known to the session.
    pub async fn table(&self, name: &str) -> Result<DataFrame> {
        let read = Relation {
            common: None,
            rel_type: Some(relation::RelType::Read(Read {
                read_type: Some(read::ReadType::NamedTable(read::NamedTable {
                    unparsed_identifier: name.to_string(),
                    options: Default::default(),
                })),
                ..Default::default()
            })),
        };
        let schema = self.schema_of(read).await?;
        self.remote_frame(RemoteSource::Named(name.to_string()), schema)
    }

    /// `id` values from `start` to `end` (exclusive) by `step`.
    pub async fn range(&self, start: i64, end: i64, step: i64) -> Result<DataFrame> {
        if step == 0 {
            return Err(ClientError::Plan("range step must not be 0".into()));
        }
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Int64, false),
        ]));
        self.remote_frame(RemoteSource::Range { start, end, step }, schema)
    }

    /// A DataFrame over rows held by the client; they travel with the plan.
    pub fn create_dataframe(&self, batches: Vec<RecordBatch>) -> Result<DataFrame> {
        let schema = batches
            .first()
            .map(|b| b.schema())
            .ok_or_else(|| ClientError::Plan("create_dataframe needs at least one batch".into()))?;
        let mut data = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut data, &schema)?;
            for b in &batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        self.remote_frame(RemoteSource::Local(data), schema)
    }

    /// Reads files: `spark.read().parquet(path)`.
    pub fn read(&self) -> DataFrameReader {
        DataFrameReader {
            session: self.clone(),
            options: BTreeMap::new(),
        }
    }

    /// Reads a streaming source (`spark.readStream`).
    pub fn read_stream(&self) -> crate::streaming::DataStreamReader {
        crate::streaming::DataStreamReader::new(self.clone())
    }

    /// The cluster's streaming queries (`spark.streams`).
    pub fn streams(&self) -> crate::streaming::StreamingQueryManager {
        crate::streaming::StreamingQueryManager::new(self.clone())
    }

    /// A configuration value of the session.
    pub async fn conf_get(&self, key: &str) -> Result<Option<String>> {
        let pairs = self
            .config(config_request::operation::OpType::GetOption(
                config_request::GetOption {
                    keys: vec![key.to_string()],
                },
            ))
            .await?;
        Ok(pairs.into_iter().next().and_then(|kv| kv.value))
    }

    /// Sets a configuration value for the session.
    pub async fn conf_set(&self, key: &str, value: &str) -> Result<()> {
        self.config(config_request::operation::OpType::Set(
            config_request::Set {
                pairs: vec![KeyValue {
                    key: key.to_string(),
                    value: Some(value.to_string()),
                }],
                silent: None,
            },
        ))
        .await?;
        Ok(())
    }

    async fn config(&self, op: config_request::operation::OpType) -> Result<Vec<KeyValue>> {
        let response = self
            .client
            .clone()
            .config(ConfigRequest {
                session_id: self.session_id.clone(),
                user_context: self.user_context(),
                operation: Some(config_request::Operation { op_type: Some(op) }),
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(response.pairs)
    }

    /// Interrupts every running operation of this session; returns their ids.
    pub async fn interrupt_all(&self) -> Result<Vec<String>> {
        self.interrupt(interrupt_request::InterruptType::All, None)
            .await
    }

    /// Interrupts one operation.
    pub async fn interrupt_operation(&self, operation_id: &str) -> Result<Vec<String>> {
        self.interrupt(
            interrupt_request::InterruptType::OperationId,
            Some(interrupt_request::Interrupt::OperationId(
                operation_id.to_string(),
            )),
        )
        .await
    }

    async fn interrupt(
        &self,
        kind: interrupt_request::InterruptType,
        target: Option<interrupt_request::Interrupt>,
    ) -> Result<Vec<String>> {
        let response = self
            .client
            .clone()
            .interrupt(InterruptRequest {
                session_id: self.session_id.clone(),
                user_context: self.user_context(),
                interrupt_type: kind as i32,
                interrupt: target,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(response.interrupted_ids)
    }

    /// The server's Spark version.
    pub async fn version(&self) -> Result<String> {
        let response = self
            .client
            .clone()
            .analyze_plan(AnalyzePlanRequest {
                session_id: self.session_id.clone(),
                user_context: self.user_context(),
                analyze: Some(analyze_plan_request::Analyze::SparkVersion(
                    analyze_plan_request::SparkVersion {},
                )),
                ..Default::default()
            })
            .await?
            .into_inner();
        match response.result {
            Some(sparkling_proto::spark::analyze_plan_response::Result::SparkVersion(v)) => {
                Ok(v.version)
            }
            _ => Err(ClientError::Protocol("no version in response".into())),
        }
    }

    /// Asks the server to explain a relation.
    pub(crate) async fn explain_relation(
        &self,
        relation: Relation,
        extended: bool,
    ) -> Result<String> {
        use analyze_plan_request::explain::ExplainMode;
        let response = self
            .client
            .clone()
            .analyze_plan(AnalyzePlanRequest {
                session_id: self.session_id.clone(),
                user_context: self.user_context(),
                analyze: Some(analyze_plan_request::Analyze::Explain(
                    analyze_plan_request::Explain {
                        plan: Some(Plan {
                            op_type: Some(plan::OpType::Root(relation)),
                        }),
                        explain_mode: if extended {
                            ExplainMode::Extended
                        } else {
                            ExplainMode::Simple
                        } as i32,
                    },
                )),
                ..Default::default()
            })
            .await?
            .into_inner();
        match response.result {
            Some(sparkling_proto::spark::analyze_plan_response::Result::Explain(e)) => {
                Ok(e.explain_string)
            }
            _ => Err(ClientError::Protocol(
                "no explain string in response".into(),
            )),
        }
    }

    /// Ends the session on the server.
    pub async fn stop(&self) -> Result<()> {
        self.client
            .clone()
            .release_session(ReleaseSessionRequest {
                session_id: self.session_id.clone(),
                user_context: self.user_context(),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Sends a command relation (e.g. create a temp view).
    pub(crate) async fn run_command(&self, cmd: Command) -> Result<()> {
        self.execute(plan::OpType::Command(cmd), None).await?;
        Ok(())
    }

    /// The exact Arrow schema of a relation: executes it with `LIMIT 0`, which the
    /// gateway answers without running a job.
    pub(crate) async fn schema_of(&self, relation: Relation) -> Result<SchemaRef> {
        let limited = Relation {
            common: None,
            rel_type: Some(relation::RelType::Limit(Box::new(Limit {
                input: Some(Box::new(relation)),
                limit: 0,
            }))),
        };
        Ok(self.collect_relation(limited).await?.schema)
    }

    pub(crate) fn remote_frame(
        &self,
        source: RemoteSource,
        schema: SchemaRef,
    ) -> Result<DataFrame> {
        let name = match &source {
            RemoteSource::Named(n) => n.rsplit('.').next().unwrap_or(n).to_string(),
            RemoteSource::Sql(_) => "sql".to_string(),
            RemoteSource::Files { format, .. } => format.clone(),
            RemoteSource::Range { .. } => "range".to_string(),
            RemoteSource::Local(_) => "local".to_string(),
        };
        let table = RemoteTable::new(source, schema);
        let plan: LogicalPlan =
            LogicalPlanBuilder::scan(name, provider_as_source(Arc::new(table)), None)?.build()?;
        Ok(DataFrame::new(self.clone(), plan))
    }
}

/// What an `ExecutePlan` call returned.
#[derive(Default)]
pub(crate) struct ExecuteResult {
    pub schema: Option<SchemaRef>,
    pub batches: Vec<RecordBatch>,
    pub sql_command_result: Option<Relation>,
    pub complete: bool,
    /// Command results (streaming query answers and the like).
    pub other: Vec<execute_plan_response::ResponseType>,
}

/// A SQL relation.
pub fn sql_relation(query: &str) -> Relation {
    Relation {
        common: None,
        rel_type: Some(relation::RelType::Sql(Sql {
            query: query.to_string(),
            ..Default::default()
        })),
    }
}

/// Reads files into DataFrames (`spark.read()`).
pub struct DataFrameReader {
    session: SparkSession,
    options: BTreeMap<String, String>,
}

impl DataFrameReader {
    /// Sets a reader option (`header`, `delimiter` for CSV).
    pub fn option(mut self, key: &str, value: &str) -> Self {
        self.options.insert(key.to_string(), value.to_string());
        self
    }

    /// Reads Parquet files or directories.
    pub async fn parquet(self, path: &str) -> Result<DataFrame> {
        self.load("parquet", path).await
    }

    /// Reads CSV files.
    pub async fn csv(self, path: &str) -> Result<DataFrame> {
        self.load("csv", path).await
    }

    /// Reads newline-delimited JSON files.
    pub async fn json(self, path: &str) -> Result<DataFrame> {
        self.load("json", path).await
    }

    /// Reads files of `format`.
    pub async fn load(self, format: &str, path: &str) -> Result<DataFrame> {
        let relation = Relation {
            common: None,
            rel_type: Some(relation::RelType::Read(Read {
                read_type: Some(read::ReadType::DataSource(read::DataSource {
                    format: Some(format.to_string()),
                    options: self.options.clone().into_iter().collect(),
                    paths: vec![path.to_string()],
                    ..Default::default()
                })),
                ..Default::default()
            })),
        };
        let schema = self.session.schema_of(relation).await?;
        self.session.remote_frame(
            RemoteSource::Files {
                format: format.to_string(),
                paths: vec![path.to_string()],
                options: self.options,
            },
            schema,
        )
    }
}
