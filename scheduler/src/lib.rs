//! The Sparkling scheduler process, assembled: the engine (`sparkling-engine`: the
//! embedded Ballista scheduler executors register with, sessions, the statement
//! runner), the lakehouse that runs its Iceberg commands and streaming queries
//! (`sparkling-lakehouse`), submitted jobs and pipelines (`sparkling-jobs`), the
//! Spark Connect service (`sparkling-connect`) and this crate's HTTP port ([`http`]:
//! REST submissions, the JSON API, `/metrics`, the web UI).
//!
//! [`start`] brings all of it up on the configured ports and returns a handle that
//! stops it.

pub mod error;
pub mod http;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use error::{Result, SchedulerError};

use sparkling_connect::Gateway;
use sparkling_engine::cluster::incoming;
use sparkling_engine::session::SessionManager;
use sparkling_engine::{Cluster, Engine};
use sparkling_jobs::{Services, lineage, submissions};
use sparkling_lakehouse::Lakehouse;
use sparkling_lakehouse::streaming::StreamingManager;
use sparkling_proto::spark::spark_connect_service_server::SparkConnectServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Default port executors register on (Ballista's).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;
/// Default HTTP port (UI, JSON API, submissions), as Spark's master UI.
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// Default address servers bind: this machine only.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// Largest message the gateway accepts (plans with inline data) or sends.
pub const GATEWAY_MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// Where the scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to bind (127.0.0.1 unless told otherwise).
    pub bind: IpAddr,
    /// Scheduler gRPC port for executors (50050; 0 picks a free port).
    pub port: u16,
    /// Spark Connect gateway port (15002; 0 picks a free port).
    pub connect_port: u16,
    /// HTTP port: REST submissions and the JSON API (8080; 0 picks a free port).
    pub http_port: u16,
    /// Host name executors and clients use to reach this machine.
    pub external_host: Option<String>,
    /// Bearer token clients must present; required when bound to a non-loopback address.
    pub auth_token: Option<String>,
    /// The Iceberg REST catalog behind `spark_catalog` (`http://host:8181`), if any.
    pub catalog_uri: Option<String>,
    /// The token to present to that catalog.
    pub catalog_token: Option<String>,
    /// Where the scheduler keeps what must survive a restart (streaming queries,
    /// submitted jobs); nothing is kept if `None`.
    pub state_dir: Option<std::path::PathBuf>,
    /// Where OpenLineage events of jobs and pipeline updates go: an HTTP endpoint
    /// (`http://host:5000`) or a file (JSON lines); nowhere if `None`.
    pub lineage: Option<String>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND,
            port: DEFAULT_SCHEDULER_PORT,
            connect_port: sparkling_proto::DEFAULT_CONNECT_PORT,
            http_port: DEFAULT_HTTP_PORT,
            external_host: None,
            auth_token: None,
            catalog_uri: None,
            catalog_token: None,
            state_dir: None,
            lineage: None,
        }
    }
}

/// A running scheduler and gateway.
pub struct RunningScheduler {
    /// The embedded scheduler.
    pub cluster: Cluster,
    /// The engine (cluster, sessions, the statement runner).
    pub engine: Engine,
    /// The cluster's streaming queries.
    pub streams: StreamingManager,
    /// Where executors register.
    pub scheduler_addr: SocketAddr,
    /// Where clients connect (`sc://` URLs).
    pub gateway_addr: SocketAddr,
    /// The HTTP port (REST submissions, JSON API).
    pub http_addr: SocketAddr,
    /// Submitted jobs.
    pub submissions: submissions::SubmissionManager,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningScheduler {
    /// Stops accepting requests and waits for the servers to finish.
    pub async fn stop(self) {
        // Streaming queries stop between batches and resume on the next start.
        self.streams.shutdown().await;
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn bind(addr: IpAddr, port: u16, what: &'static str) -> Result<TcpListener> {
    let addr = SocketAddr::new(addr, port);
    TcpListener::bind(addr)
        .await
        .map_err(|source| SchedulerError::Bind { what, addr, source })
}

/// Starts the scheduler and the gateway.
pub async fn start(options: SchedulerOptions) -> Result<RunningScheduler> {
    sparkling_auth::require_token_off_loopback(
        options.bind,
        options.auth_token.as_deref(),
        "cluster",
    )
    .map_err(SchedulerError::Options)?;
    let iceberg = match &options.catalog_uri {
        Some(uri) => Some(
            sparkling_connectors::iceberg::IcebergCatalog::connect(
                uri,
                options.catalog_token.as_deref(),
            )
            .await
            .map_err(|e| SchedulerError::Options(e.to_string()))?,
        ),
        None => None,
    };
    // Spark's session catalog always has `default`.
    if let Some(iceberg) = &iceberg {
        iceberg
            .ensure_namespace(sparkling_engine::session::DEFAULT_SCHEMA)
            .await
            .map_err(|e| SchedulerError::Catalog(format!("creating namespace default: {e}")))?;
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let scheduler_listener = bind(options.bind, options.port, "scheduler").await?;
    let gateway_listener =
        bind(options.bind, options.connect_port, "Spark Connect gateway").await?;
    let http_listener = bind(options.bind, options.http_port, "HTTP server").await?;
    let scheduler_addr = scheduler_listener.local_addr()?;
    let gateway_addr = gateway_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    let external_host = options
        .external_host
        .clone()
        .unwrap_or_else(|| options.bind.to_string());
    let (cluster, scheduler_task) = Cluster::start(
        scheduler_listener,
        &external_host,
        stopped(shutdown_rx.clone()),
    )
    .await?;
    let sessions = Arc::new(SessionManager::new(iceberg.clone())?);
    let streams = StreamingManager::new(
        cluster.clone(),
        Arc::clone(&sessions),
        iceberg,
        options.state_dir.as_deref(),
    )?;
    let engine = Engine::new(
        cluster.clone(),
        sessions,
        Arc::new(Lakehouse::new(streams.clone())),
    );
    let services = Services {
        engine: engine.clone(),
        streams: streams.clone(),
    };
    // Streaming queries and submitted jobs that ran when the scheduler last stopped go on.
    streams.resume_all();
    let lineage =
        lineage::Lineage::start(options.lineage.as_deref(), options.catalog_uri.as_deref())?;
    let submissions = submissions::SubmissionManager::new(
        services.clone(),
        options.state_dir.as_deref(),
        lineage,
    )?;
    submissions.resume_all();
    let http = http::router(
        http::HttpState {
            services,
            submissions: submissions.clone(),
        },
        options.auth_token.clone(),
    );
    let gateway = Gateway::new(engine.clone(), streams.clone());
    let http_shutdown = stopped(shutdown_rx.clone());
    let http_task = tokio::spawn(async move {
        if let Err(e) = axum::serve(http_listener, http)
            .with_graceful_shutdown(http_shutdown)
            .await
        {
            tracing::error!("HTTP server failed: {e}");
        }
    });
    let service = SparkConnectServiceServer::new(gateway)
        .max_decoding_message_size(GATEWAY_MAX_MESSAGE_SIZE)
        .max_encoding_message_size(GATEWAY_MAX_MESSAGE_SIZE);
    let token = options.auth_token.clone();
    let service = tonic::service::interceptor::InterceptedService::new(
        service,
        move |req: tonic::Request<()>| check_token(token.as_deref(), req),
    );
    let serve = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming(gateway_listener), stopped(shutdown_rx));
    let gateway_task = tokio::spawn(async move {
        if let Err(e) = serve.await {
            tracing::error!("Spark Connect gateway failed: {e}");
        }
    });
    Ok(RunningScheduler {
        cluster,
        engine,
        streams,
        scheduler_addr,
        gateway_addr,
        http_addr,
        submissions,
        shutdown,
        tasks: vec![scheduler_task, gateway_task, http_task],
    })
}

/// Requires `Authorization: Bearer <token>` when a token is configured.
#[allow(clippy::result_large_err)]
fn check_token(
    token: Option<&str>,
    req: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    let presented = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(sparkling_auth::bearer);
    match sparkling_auth::check(token, presented) {
        Ok(()) => Ok(req),
        Err(sparkling_auth::TokenError::Invalid) => {
            Err(tonic::Status::unauthenticated("invalid token"))
        }
        Err(sparkling_auth::TokenError::Missing) => Err(tonic::Status::unauthenticated(
            "this cluster requires a token: connect with sc://HOST:PORT/;token=...",
        )),
    }
}
