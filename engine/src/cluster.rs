//! The embedded Ballista scheduler: executors register and heartbeat on its gRPC port,
//! and the gateway submits jobs to it in-process.
//!
//! [`Cluster`] owns the Ballista `SchedulerServer` and exposes what the gateway needs:
//! submit a logical plan as a job ([`crate::job`]), cancel it, clean up its data, and
//! see which executors are alive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::TcpListenerStream;

use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::JobStatus;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_scheduler::cluster::{BallistaCluster, JobState};
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::metrics::default_metrics_collector;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use sparkling_connectors::{SparklingPhysicalCodec, functions};
use sparkling_plan::SparklingLogicalCodec;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tonic::service::interceptor::InterceptedService;

use crate::error::EngineError;
use crate::task_status::{ExecutorFacingScheduler, revive_while_jobs_run};

/// Largest gRPC message the scheduler accepts or sends (task plans can be large).
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// How long after its last heartbeat an executor is declared lost. Generous, so a
/// busy executor is not dropped; jobs notice a dead executor sooner by probing it
/// (see [`Cluster::remove_unreachable_executors`]).
pub const EXECUTOR_TIMEOUT_SECONDS: u64 = 30;

type Server = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// The embedded scheduler.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) server: Server,
    /// Where Ballista keeps jobs' statuses and finished jobs' graphs.
    pub(crate) job_state: Arc<dyn JobState>,
    address: SocketAddr,
}

impl Cluster {
    /// Starts the scheduler and serves its gRPC endpoint on `listener` until `shutdown`
    /// resolves.
    pub async fn start(
        listener: TcpListener,
        external_host: &str,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), EngineError> {
        let address = listener.local_addr()?;
        let mut config = SchedulerConfig::default()
            .with_hostname(external_host)
            .with_port(address.port())
            .with_grpc_server_max_decoding_message_size(MAX_MESSAGE_SIZE as u32)
            .with_grpc_server_max_encoding_message_size(MAX_MESSAGE_SIZE as u32)
            .with_task_distribution(TaskDistributionPolicy::Bias)
            // The gateway removes a job's shuffle and result files once the client has
            // read the results; this only catches jobs whose results were never read.
            .with_finished_job_data_clean_up_interval_seconds(600)
            .with_finished_job_state_clean_up_interval_seconds(600);
        config.executor_timeout_seconds = EXECUTOR_TIMEOUT_SECONDS;
        config.expire_dead_executor_interval_seconds = 2;
        config.task_max_failures = 4;
        config.stage_max_failures = 4;
        let config = Arc::new(config);

        let session_builder: ballista_scheduler::SessionBuilder =
            Arc::new(|config: SessionConfig| {
                let state = functions::session_state(config)?;
                Ok(crate::session::with_planning(
                    datafusion::execution::SessionStateBuilder::new_from_existing(state),
                )
                .build())
            });
        let config_producer: ballista_core::ConfigProducer = Arc::new(crate::session::base_config);
        let cluster =
            BallistaCluster::new_memory(config.scheduler_name(), session_builder, config_producer);
        let job_state = cluster.job_state();
        let codec = BallistaCodec::<LogicalPlanNode, PhysicalPlanNode>::new(
            Arc::new(SparklingLogicalCodec::default()),
            Arc::new(SparklingPhysicalCodec::default()),
        );
        let metrics = default_metrics_collector()
            .map_err(|e| EngineError::Internal(format!("scheduler metrics: {e}")))?;
        let mut server = Server::new(config.scheduler_name(), cluster, codec, config, metrics);
        server
            .init()
            .await
            .map_err(|e| EngineError::Internal(format!("starting the scheduler: {e}")))?;

        tokio::spawn(revive_while_jobs_run(
            server.clone(),
            Duration::from_secs(1),
        ));
        let grpc = SchedulerGrpcServer::new(ExecutorFacingScheduler::new(server.clone()))
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        // Ballista's handlers read the peer address the way axum provides it.
        let grpc = InterceptedService::new(grpc, |mut req: tonic::Request<()>| {
            if let Some(addr) = req.remote_addr() {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(addr));
            }
            Ok(req)
        });
        let serve = create_grpc_server(&GrpcServerConfig {
            timeout_seconds: 3600,
            ..Default::default()
        })
        .add_service(grpc)
        .serve_with_incoming_shutdown(crate::cluster::incoming(listener), shutdown);
        let handle = tokio::spawn(async move {
            if let Err(e) = serve.await {
                tracing::error!("scheduler gRPC server failed: {e}");
            }
        });
        Ok((
            Self {
                server,
                job_state,
                address,
            },
            handle,
        ))
    }

    /// Jobs queued or running.
    pub fn running_jobs(&self) -> usize {
        self.server.running_job_number() + self.server.pending_job_number()
    }

    /// The address executors register at.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Submits `plan`, planned with `ctx`, as a job; status updates arrive on the returned
    /// receiver.
    pub async fn submit(
        &self,
        name: &str,
        ctx: Arc<SessionContext>,
        plan: &LogicalPlan,
    ) -> Result<(String, mpsc::Receiver<JobStatus>), EngineError> {
        let (tx, rx) = mpsc::channel(1024);
        let job_id = self
            .server
            .submit_job(name, ctx, plan, Some(tx))
            .await
            .map_err(|e| EngineError::Internal(format!("submitting job: {e}")))?;
        Ok((job_id, rx))
    }

    /// The current status of a job, if the scheduler knows it.
    pub async fn job_status(&self, job_id: &str) -> Result<Option<JobStatus>, EngineError> {
        self.server
            .state
            .task_manager
            .get_job_status(job_id)
            .await
            .map_err(|e| EngineError::Internal(format!("job status: {e}")))
    }

    /// Cancels a job: running tasks are aborted on the executors.
    pub async fn cancel(&self, job_id: &str) {
        if let Err(e) = self.server.cancel_job(job_id.to_string()).await {
            tracing::warn!(job_id, "cancelling job: {e}");
        }
    }

    /// Removes a finished job's shuffle and result files from the executors.
    pub fn clean_up(&self, job_id: &str) {
        self.server
            .state
            .executor_manager
            .clean_up_job_data(job_id.to_string());
    }

    /// Executors currently registered (alive ones heartbeat within the timeout).
    pub async fn executors(&self) -> Vec<ExecutorInfo> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        match self
            .server
            .state
            .executor_manager
            .get_executors_state()
            .await
        {
            Ok(states) => states
                .into_iter()
                .map(|(meta, heartbeat, metrics)| {
                    use ballista_core::serde::protobuf::executor_metric::Metric;
                    let memory = |pick: fn(&Metric) -> Option<u64>| {
                        metrics
                            .iter()
                            .find_map(|m| m.metric.as_ref().and_then(pick))
                    };
                    ExecutorInfo {
                        id: meta.id,
                        host: meta.host,
                        port: meta.port,
                        slots: meta.specification.task_slots,
                        last_heartbeat_age: heartbeat.map(|t| now.saturating_sub(t)),
                        resident_bytes: memory(|m| match m {
                            Metric::ProcPhysicalMemory(b) => Some(*b),
                            _ => None,
                        }),
                        peak_resident_bytes: memory(|m| match m {
                            Metric::PeakPhysicalMemory(b) => Some(*b).filter(|b| *b > 0),
                            _ => None,
                        }),
                    }
                })
                .collect(),
            Err(e) => {
                tracing::warn!("listing executors: {e}");
                Vec::new()
            }
        }
    }

    /// Removes registered executors whose Flight port refuses connections (the
    /// process is gone); returns their ids. An executor that is merely slow to answer
    /// (a timeout, e.g. under load) is left alone.
    pub async fn remove_unreachable_executors(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for executor in self.executors().await {
            let addr = format!("{}:{}", executor.host, executor.port);
            let refused = matches!(
                tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::net::TcpStream::connect(&addr)
                )
                .await,
                Ok(Err(_))
            );
            if refused {
                let reason = format!("executor {} at {addr} does not answer", executor.id);
                if let Err(e) = self
                    .server
                    .state
                    .executor_manager
                    .remove_executor(&executor.id, Some(reason))
                    .await
                {
                    tracing::warn!("removing executor {}: {e}", executor.id);
                }
                removed.push(executor.id);
            }
        }
        removed
    }

    /// Resets the scheduler's count of free task slots of every executor to its total.
    ///
    /// Ballista 53 loses slots when a job is cancelled while its tasks are being
    /// launched (the launch finds the job gone and never returns the slots), which can
    /// leave a re-run job waiting forever for slots it believes busy. Call it only when
    /// no other job is running on the executors.
    pub async fn reset_slot_accounting(&self) {
        let states = match self
            .server
            .state
            .executor_manager
            .get_executors_state()
            .await
        {
            Ok(states) => states,
            Err(e) => {
                tracing::warn!("listing executors: {e}");
                return;
            }
        };
        for (metadata, _, _) in states {
            let slots = metadata.specification.task_slots;
            let data = ballista_core::serde::scheduler::ExecutorData {
                executor_id: metadata.id.clone(),
                total_task_slots: slots,
                available_task_slots: slots,
            };
            if let Err(e) = self
                .server
                .state
                .executor_manager
                .register_executor(metadata, data)
                .await
            {
                tracing::warn!("resetting task slots: {e}");
            }
        }
    }

    /// Ids of the registered executors.
    pub async fn executor_ids(&self) -> std::collections::HashSet<String> {
        self.executors().await.into_iter().map(|e| e.id).collect()
    }

    /// Waits until at least one executor is registered, for at most `timeout`.
    pub async fn wait_for_executors(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.executors().await.is_empty() {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// An executor as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct ExecutorInfo {
    /// Executor id (a UUID).
    pub id: String,
    /// Host its Flight server is reachable at.
    pub host: String,
    /// Flight port.
    pub port: u16,
    /// Task slots.
    pub slots: u32,
    /// Time since its last heartbeat.
    pub last_heartbeat_age: Option<Duration>,
    /// Its process's resident memory, as of its last heartbeat.
    pub resident_bytes: Option<u64>,
    /// The most resident memory it reported.
    pub peak_resident_bytes: Option<u64>,
}

/// Accepted connections with Nagle's algorithm off: gRPC sends small messages and
/// waits for answers, and without `TCP_NODELAY` each round trip stalls on delayed ACKs
/// (tonic ignores its own `tcp_nodelay` setting for externally supplied listeners).
pub fn incoming(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::TryStreamExt;
    TcpListenerStream::new(listener).map_ok(|stream| {
        let _ = stream.set_nodelay(true);
        stream
    })
}
