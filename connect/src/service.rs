//! The `spark.connect.SparkConnectService` implementation: protocol in, calls on the
//! session manager and plan executor, protocol out. Nothing else lives here.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use sparkling_proto::spark::spark_connect_service_server::SparkConnectService;
use sparkling_proto::spark::{
    AddArtifactsRequest, AddArtifactsResponse, AnalyzePlanRequest, AnalyzePlanResponse,
    ArtifactStatusesRequest, ArtifactStatusesResponse, CloneSessionRequest, CloneSessionResponse,
    ConfigRequest, ConfigResponse, ExecutePlanRequest, ExecutePlanResponse,
    FetchErrorDetailsRequest, FetchErrorDetailsResponse, GetStatusRequest, GetStatusResponse,
    InterruptRequest, InterruptResponse, KeyValue, ReattachExecuteRequest, ReleaseExecuteRequest,
    ReleaseExecuteResponse, ReleaseSessionRequest, ReleaseSessionResponse, config_request,
    interrupt_request,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use sparkling_engine::Engine;
use sparkling_engine::cluster::Cluster;
use sparkling_engine::session::{Session, SessionManager};
use sparkling_lakehouse::streaming::StreamingManager;

use crate::error::ConnectError;
use crate::responder::Responder;
use crate::status::status;

/// The stream of an `ExecutePlan` call.
type ResponseStream = Pin<Box<dyn Stream<Item = Result<ExecutePlanResponse, Status>> + Send>>;

/// The Spark Connect service: protocol in, calls on the engine (and the lakehouse's
/// streaming queries for PySpark's streaming commands), protocol out.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) engine: Engine,
    pub(crate) streams: StreamingManager,
}

impl Gateway {
    /// The service over `engine`, with `streams` for streaming commands.
    pub fn new(engine: Engine, streams: StreamingManager) -> Self {
        Self { engine, streams }
    }

    /// The cluster the gateway submits work to.
    pub fn cluster(&self) -> &Cluster {
        self.engine.cluster()
    }

    /// Open sessions.
    pub fn sessions(&self) -> &SessionManager {
        self.engine.sessions()
    }

    fn session(&self, id: &str, observed_server_id: Option<&str>) -> Result<Arc<Session>, Status> {
        let session = self.sessions().get_or_create(id).map_err(status)?;
        if let Some(observed) = observed_server_id
            && !observed.is_empty()
            && observed != session.server_side_id
        {
            return Err(Status::failed_precondition(format!(
                "INVALID_HANDLE.SESSION_CHANGED: session {id} was restarted on the server; \
                 create a new session"
            )));
        }
        Ok(session)
    }
}
#[tonic::async_trait]
impl SparkConnectService for Gateway {
    type ExecutePlanStream = ResponseStream;
    type ReattachExecuteStream = ResponseStream;

    async fn execute_plan(
        &self,
        request: Request<ExecutePlanRequest>,
    ) -> Result<Response<Self::ExecutePlanStream>, Status> {
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        let operation_id = req
            .operation_id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (tx, rx) = mpsc::channel(4);
        let (operation, interrupted) = session.start_operation(&operation_id, req.tags.clone());
        let out = Responder {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_id: operation_id.clone(),
            tx,
        };
        let gateway = self.clone();
        tokio::spawn(async move {
            let result = gateway
                .run_operation(&session, req.plan, &out, &operation, interrupted)
                .await;
            if let Ok(Err(e)) = result {
                tracing::debug!(operation = %operation_id, "operation failed: {e}");
                let _ = out.tx.send(Err(status(e))).await;
            }
            session.end_operation(&operation_id);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn analyze_plan(
        &self,
        request: Request<AnalyzePlanRequest>,
    ) -> Result<Response<AnalyzePlanResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        let analyze = req
            .analyze
            .ok_or_else(|| Status::invalid_argument("AnalyzePlan without a request"))?;
        let result = self.analyze(&session, analyze).await.map_err(status)?;
        Ok(Response::new(AnalyzePlanResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            result: Some(result),
        }))
    }

    async fn config(
        &self,
        request: Request<ConfigRequest>,
    ) -> Result<Response<ConfigResponse>, Status> {
        use config_request::operation::OpType;
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        let op = req
            .operation
            .and_then(|o| o.op_type)
            .ok_or_else(|| Status::invalid_argument("Config request without an operation"))?;
        let kv = |key: String, value: Option<String>| KeyValue { key, value };
        let mut warnings = Vec::new();
        let pairs = match op {
            OpType::Set(set) => {
                for pair in set.pairs {
                    let value = pair.value.unwrap_or_default();
                    session.set_conf(&pair.key, &value).map_err(status)?;
                }
                vec![]
            }
            OpType::Get(get) => {
                let mut pairs = Vec::new();
                for key in get.keys {
                    let value = session.get_conf(&key).ok_or_else(|| {
                        status(ConnectError::InvalidInput(format!(
                            "[SQL_CONF_NOT_FOUND] The SQL config \"{key}\" cannot be found. \
                             Please verify that the config exists."
                        )))
                    })?;
                    pairs.push(kv(key, Some(value)));
                }
                pairs
            }
            OpType::GetWithDefault(get) => get
                .pairs
                .into_iter()
                .map(|p| {
                    let value = session.get_conf(&p.key).or(p.value);
                    kv(p.key, value)
                })
                .collect(),
            OpType::GetOption(get) => get
                .keys
                .into_iter()
                .map(|k| {
                    let value = session.get_conf(&k);
                    kv(k, value)
                })
                .collect(),
            OpType::GetAll(all) => session
                .all_conf(all.prefix.as_deref())
                .into_iter()
                .map(|(k, v)| kv(k, v))
                .collect(),
            OpType::Unset(unset) => {
                for key in unset.keys {
                    session.unset_conf(&key).map_err(status)?;
                }
                vec![]
            }
            OpType::IsModifiable(m) => m
                .keys
                .into_iter()
                .map(|k| {
                    let modifiable = !k.starts_with("spark.master") && !k.starts_with("spark.app");
                    if !modifiable {
                        warnings.push(format!("{k} is fixed for the lifetime of the cluster"));
                    }
                    kv(k, Some(modifiable.to_string()))
                })
                .collect(),
        };
        Ok(Response::new(ConfigResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            pairs,
            warnings,
        }))
    }

    async fn add_artifacts(
        &self,
        _request: Request<Streaming<AddArtifactsRequest>>,
    ) -> Result<Response<AddArtifactsResponse>, Status> {
        Err(Status::unimplemented(
            "artifacts (jars, Python files, archives) are not supported: Sparkling runs SQL and \
             DataFrame plans, not user code",
        ))
    }

    async fn artifact_status(
        &self,
        request: Request<ArtifactStatusesRequest>,
    ) -> Result<Response<ArtifactStatusesResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        Ok(Response::new(ArtifactStatusesResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            statuses: req
                .names
                .into_iter()
                .map(|n| {
                    (
                        n,
                        sparkling_proto::spark::artifact_statuses_response::ArtifactStatus {
                            exists: false,
                        },
                    )
                })
                .collect(),
        }))
    }

    async fn interrupt(
        &self,
        request: Request<InterruptRequest>,
    ) -> Result<Response<InterruptResponse>, Status> {
        use interrupt_request::{Interrupt, InterruptType};
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        let kind =
            InterruptType::try_from(req.interrupt_type).unwrap_or(InterruptType::Unspecified);
        let interrupted_ids = match (kind, req.interrupt) {
            (InterruptType::All, _) => session.interrupt(|_, _| true),
            (InterruptType::Tag, Some(Interrupt::OperationTag(tag))) => {
                session.interrupt(|_, op| op.tags.contains(&tag))
            }
            (InterruptType::OperationId, Some(Interrupt::OperationId(id))) => {
                session.interrupt(|op_id, _| op_id == id)
            }
            _ => {
                return Err(Status::invalid_argument(
                    "interrupt request names no operations",
                ));
            }
        };
        Ok(Response::new(InterruptResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            interrupted_ids,
        }))
    }

    async fn reattach_execute(
        &self,
        request: Request<ReattachExecuteRequest>,
    ) -> Result<Response<Self::ReattachExecuteStream>, Status> {
        let req = request.into_inner();
        Err(Status::not_found(format!(
            "INVALID_HANDLE.OPERATION_NOT_FOUND: operation {} cannot be reattached (results are \
             streamed once)",
            req.operation_id
        )))
    }

    async fn release_execute(
        &self,
        request: Request<ReleaseExecuteRequest>,
    ) -> Result<Response<ReleaseExecuteResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        Ok(Response::new(ReleaseExecuteResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            operation_id: Some(req.operation_id),
        }))
    }

    async fn release_session(
        &self,
        request: Request<ReleaseSessionRequest>,
    ) -> Result<Response<ReleaseSessionResponse>, Status> {
        let req = request.into_inner();
        self.sessions().release(&req.session_id);
        Ok(Response::new(ReleaseSessionResponse {
            session_id: req.session_id,
            server_side_session_id: String::new(),
        }))
    }

    async fn fetch_error_details(
        &self,
        request: Request<FetchErrorDetailsRequest>,
    ) -> Result<Response<FetchErrorDetailsResponse>, Status> {
        let req = request.into_inner();
        let session = self.session(
            &req.session_id,
            req.client_observed_server_side_session_id.as_deref(),
        )?;
        Ok(Response::new(FetchErrorDetailsResponse {
            session_id: session.id.clone(),
            server_side_session_id: session.server_side_id.clone(),
            ..Default::default()
        }))
    }

    async fn clone_session(
        &self,
        _request: Request<CloneSessionRequest>,
    ) -> Result<Response<CloneSessionResponse>, Status> {
        Err(Status::unimplemented(
            "cloning sessions is not supported yet",
        ))
    }

    async fn get_status(
        &self,
        _request: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        Err(Status::unimplemented("GetStatus is not supported yet"))
    }
}
