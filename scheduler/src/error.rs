//! The scheduler's error: what can stop it starting (bad options, a port in use, an
//! unreachable catalog) and what the HTTP API reports; the HTTP status of each kind
//! is chosen in `http`, once.

use sparkling_engine::{EngineError, ErrorKind};
use sparkling_jobs::JobsError;
use sparkling_lakehouse::LakehouseError;

/// The result of scheduler operations.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;

/// Everything that can go wrong starting or serving the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The options do not make a working scheduler.
    #[error("{0}")]
    Options(String),
    /// A port to listen on is taken or not allowed.
    #[error("cannot listen on {addr} for the {what}: {source}")]
    Bind {
        /// The role the port is for.
        what: &'static str,
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// The scheduler runs without an Iceberg catalog and the request needs one.
    #[error("this scheduler has no Iceberg catalog (--catalog)")]
    NoCatalog,
    /// The Iceberg catalog did not answer as it should.
    #[error("Iceberg catalog: {0}")]
    Catalog(String),
    /// The engine failed (starting the cluster, running a statement).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The lakehouse failed (loading streaming queries).
    #[error(transparent)]
    Lakehouse(#[from] LakehouseError),
    /// Jobs, pipelines or lineage failed.
    #[error(transparent)]
    Jobs(#[from] JobsError),
    /// Files and sockets.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl SchedulerError {
    /// A failed call to the Iceberg catalog.
    pub fn catalog(e: impl std::fmt::Display) -> Self {
        SchedulerError::Catalog(e.to_string())
    }

    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SchedulerError::Options(_) => ErrorKind::InvalidInput,
            SchedulerError::NoCatalog => ErrorKind::Unsupported,
            SchedulerError::Catalog(_) => ErrorKind::Unavailable,
            SchedulerError::Engine(e) => e.kind(),
            SchedulerError::Lakehouse(e) => e.kind(),
            SchedulerError::Jobs(e) => e.kind(),
            SchedulerError::Bind { .. } | SchedulerError::Io(_) => ErrorKind::Internal,
        }
    }
}
