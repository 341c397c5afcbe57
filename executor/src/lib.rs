//! A Sparkling executor: embeds the Ballista executor (task slots, shuffle files,
//! Arrow Flight on its port) with Sparkling's function library, plan codecs, its own
//! shuffle file writer ([`shuffle_writer`]), pooled connections to other executors
//! ([`client_pool`]), panic handling ([`task_guard`]), a
//! process-wide Parquet footer cache ([`footer_cache`]) and an explicit work directory.
//!
//! [`run_executor`] runs one executor until its `stop` future resolves or the process
//! receives SIGINT/SIGTERM; several can run in one process (`sparkling local`).

pub mod client_pool;
pub mod footer_cache;
pub mod shuffle_writer;
pub mod task_guard;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::error::BallistaError;
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::shutdown::Shutdown;
use datafusion::execution::disk_manager::{DiskManager, DiskManagerMode};
use futures::FutureExt;
use futures::future::Shared;
use sparkling_connectors::{SparklingPhysicalCodec, functions};
use sparkling_plan::SparklingLogicalCodec;

use crate::client_pool::FlightClientPool;
pub use crate::shuffle_writer::ShuffleCompression;
use crate::shuffle_writer::StageEngine;
use crate::task_guard::TaskGuardEngine;

/// Subdirectory of an executor's work directory that holds its shuffle and result
/// files, one directory per job.
pub const SHUFFLE_DIR: &str = "shuffle";

/// Subdirectory of an executor's work directory that holds its spill files.
pub const SPILL_DIR: &str = "spill";

/// Largest gRPC message (plans, task definitions, Flight batches) executors accept.
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

/// How long an idle Flight client to another executor is kept for reuse.
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Seconds between executor heartbeats; the scheduler declares an executor lost after
/// a few missed ones.
pub const HEARTBEAT_INTERVAL_SECONDS: u64 = 2;

/// Default Arrow Flight port of an executor (Ballista's); its task port is the next one.
pub const DEFAULT_FLIGHT_PORT: u16 = 50051;

/// How an executor is started.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Scheduler host.
    pub scheduler_host: String,
    /// Scheduler gRPC port (50050 by default).
    pub scheduler_port: u16,
    /// Address the Flight and task servers bind (an IP address).
    pub bind: String,
    /// Host name other processes use to reach this executor; the bind address if unset.
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle and results).
    pub port: u16,
    /// Port of the task-launch gRPC server (scheduler pushes tasks here).
    pub grpc_port: u16,
    /// Concurrent task slots.
    pub slots: usize,
    /// Directory for shuffle files and spills; created if missing.
    pub work_dir: PathBuf,
    /// Compression of the shuffle files this executor writes.
    pub shuffle_compression: ShuffleCompression,
}

/// Errors starting or running an executor.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The work directory could not be created.
    #[error("cannot create work directory {path}: {source}")]
    WorkDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bind address is not an IP address.
    #[error("--bind must be an IP address, got {0:?}")]
    Bind(String),
    /// The spill directory could not be set up.
    #[error("cannot set up the spill directory {path}: {source}")]
    SpillDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: datafusion::error::DataFusionError,
    },
    /// Ballista reported an error (e.g. the scheduler is unreachable).
    #[error("{0}")]
    Ballista(#[from] BallistaError),
}

/// How often an executor tries to register before giving up.
const REGISTRATION_ATTEMPTS: u64 = 5;

/// Runs an executor until `stop` resolves or the process gets SIGINT/SIGTERM.
///
/// On stop the executor tells the scheduler it is terminating, waits for running tasks
/// (at most `drain_timeout`) and shuts its servers down.
pub async fn run_executor(
    options: ExecutorOptions,
    stop: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> Result<(), ExecutorError> {
    let shuffle_dir = options.work_dir.join(SHUFFLE_DIR);
    let spill_dir = options.work_dir.join(SPILL_DIR);
    // Spill files only live as long as the task that wrote them: whatever is there
    // now was left by an executor that did not stop cleanly.
    if spill_dir.exists() {
        std::fs::remove_dir_all(&spill_dir).map_err(|source| ExecutorError::WorkDir {
            path: spill_dir.clone(),
            source,
        })?;
    }
    for dir in [&shuffle_dir, &spill_dir] {
        std::fs::create_dir_all(dir).map_err(|source| ExecutorError::WorkDir {
            path: dir.clone(),
            source,
        })?;
    }
    let disk_manager = spill_disk_manager(&spill_dir)?;
    if options.bind.parse::<std::net::IpAddr>().is_err() {
        return Err(ExecutorError::Bind(options.bind.clone()));
    }
    let stop = stop.boxed().shared();
    let stopped = stop.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.clone(),
        external_host: Some(
            options
                .external_host
                .clone()
                .unwrap_or_else(|| options.bind.clone()),
        ),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        scheduler_connect_timeout_seconds: 0,
        concurrent_tasks: options.slots.max(1),
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        work_dir: Some(shuffle_dir.to_string_lossy().into_owned()),
        // Sweep job directories older than a day every ten minutes; the scheduler
        // removes finished jobs' data itself, this catches what a crash left behind.
        job_data_ttl_seconds: 24 * 3600,
        job_data_clean_up_interval_seconds: 600,
        grpc_max_decoding_message_size: MAX_MESSAGE_SIZE as u32,
        grpc_max_encoding_message_size: MAX_MESSAGE_SIZE as u32,
        grpc_server_config: grpc_server_config(),
        executor_heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECONDS,
        override_execution_engine: Some(Arc::new(TaskGuardEngine::new(Arc::new(
            StageEngine::new(
                options.shuffle_compression,
                Arc::new(FlightClientPool::new(CLIENT_IDLE_TIMEOUT)),
            ),
        )))),
        override_function_registry: Some(Arc::new(functions::function_registry())),
        override_logical_codec: Some(Arc::new(SparklingLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(SparklingPhysicalCodec::default())),
        override_config_producer: Some(Arc::new(executor_session_config)),
        override_runtime_producer: Some(runtime_producer(disk_manager)),
        override_arrow_flight_service: Some(Arc::new(move |work_dir, addr, shutdown, cfg| {
            flight_server(work_dir, addr, shutdown, cfg, stop.clone())
        })),
        ..Default::default()
    };
    let config = Arc::new(config);
    // Ballista registers with the scheduler before its task server listens (an
    // upstream TODO in `executor_server::startup`), and the scheduler connects back at
    // once: on a busy machine that connection is refused and registration fails. The
    // failed attempt has released its ports, so registering again is safe. Ballista
    // reports this only as text (a gRPC status message), hence the match on it.
    let run = async move {
        let mut attempt = 1;
        loop {
            match start_executor_process(Arc::clone(&config)).await {
                Err(e)
                    if attempt < REGISTRATION_ATTEMPTS
                        && e.to_string().contains("executor registration") =>
                {
                    tracing::warn!(
                        "registering with the scheduler failed (attempt {attempt}), trying again: {e}"
                    );
                    tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    };
    tokio::pin!(run);
    // Ballista 53 can wait forever for tasks to drain after a task failed earlier
    // (upstream issue 2356), so the wait after a stop request is bounded.
    tokio::select! {
        result = &mut run => return result.map_err(ExecutorError::from),
        _ = stop_requested() => {}
        _ = stopped => {}
    }
    match tokio::time::timeout(drain_timeout, run).await {
        Ok(result) => result.map_err(ExecutorError::from),
        Err(_) => {
            tracing::warn!("executor did not drain within {drain_timeout:?}; stopping anyway");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM (Ballista's executor listens for the same signals).
async fn stop_requested() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = ctrl_c => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The executor's spill files: one DataFusion disk manager (and so one `datafusion-*`
/// directory under `spill_dir`) for the executor's lifetime. Given a directory, a
/// disk manager creates its own subdirectory at once and removes it when dropped, so a
/// disk manager per task cost a `mkdir` and a recursive delete in every task. The
/// directory is outside the shuffle directory, whose sweep removes directories left
/// unmodified for a day.
fn spill_disk_manager(spill_dir: &Path) -> Result<Arc<DiskManager>, ExecutorError> {
    DiskManager::builder()
        .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_path_buf()]))
        .build()
        .map(Arc::new)
        .map_err(|source| ExecutorError::SpillDir {
            path: spill_dir.to_path_buf(),
            source,
        })
}

/// Every task's runtime: the executor's disk manager, and the process's shared object
/// stores (so a bucket's client is built once, not per task) and Parquet footer cache.
/// The default disk manager the builder makes is replaced before it creates anything.
fn runtime_producer(disk_manager: Arc<DiskManager>) -> ballista_core::RuntimeProducer {
    Arc::new(move |_: &datafusion::prelude::SessionConfig| {
        let mut runtime = sparkling_connectors::object_stores::runtime_env_builder()
            .with_cache_manager(footer_cache::cache_manager_config())
            .build()?;
        runtime.disk_manager = Arc::clone(&disk_manager);
        Ok(Arc::new(runtime))
    })
}

/// The base session configuration of every task (task properties are applied on top).
fn executor_session_config() -> datafusion::prelude::SessionConfig {
    use ballista_core::extension::SessionConfigExt;
    datafusion::prelude::SessionConfig::new_with_ballista()
}

fn grpc_server_config() -> GrpcServerConfig {
    GrpcServerConfig {
        // Long result and shuffle streams must not be cut by a request timeout.
        timeout_seconds: 24 * 3600,
        ..Default::default()
    }
}

/// The executor's Flight server; its handle fails with "stop requested" when `stop`
/// resolves, which makes Ballista run its orderly shutdown.
fn flight_server(
    work_dir: String,
    addr: SocketAddr,
    mut shutdown: Shutdown,
    cfg: GrpcServerConfig,
    stop: Shared<futures::future::BoxFuture<'static, ()>>,
) -> tokio::task::JoinHandle<Result<(), BallistaError>> {
    let server = create_grpc_server(&cfg)
        .add_service(
            FlightServiceServer::new(BallistaFlightService::new(work_dir))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .serve_with_shutdown(addr, async move { shutdown.recv().await });
    let server = tokio::spawn(server);
    tokio::spawn(async move {
        tokio::select! {
            result = server => match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(BallistaError::TonicError(e)),
                Err(e) => Err(BallistaError::General(format!("flight server task failed: {e}"))),
            },
            _ = stop => Err(BallistaError::General("stop requested".to_string())),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_share_the_executor_spill_directory_and_the_process_footer_cache() {
        let dir = tempfile::tempdir().unwrap();
        let produce = runtime_producer(spill_disk_manager(dir.path()).unwrap());
        let config = executor_session_config();
        let first = produce(&config).unwrap();
        let second = produce(&config).unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "one runtime per task");
        let cache_of = |runtime: &datafusion::execution::runtime_env::RuntimeEnv| {
            runtime.cache_manager.get_file_metadata_cache()
        };
        assert!(Arc::ptr_eq(&cache_of(&first), &cache_of(&second)));
        assert!(Arc::ptr_eq(
            &cache_of(&first),
            &footer_cache::footer_cache()
        ));
        assert!(Arc::ptr_eq(&first.disk_manager, &second.disk_manager));
        // Tasks spill under the executor's one `datafusion-*` directory.
        let spill_dirs = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(spill_dirs(), 1);
        let file = first.disk_manager.create_tmp_file("test spill").unwrap();
        assert!(file.path().starts_with(dir.path()));
        drop((first, second));
        assert_eq!(spill_dirs(), 1, "tasks ending do not remove it");
        drop(file);
    }
}
