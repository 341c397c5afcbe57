//! The error of submitted jobs, pipelines and lineage: a bad submission or pipeline
//! spec, a killed or failed run, or what the engine and lakehouse reported.

use datafusion::error::DataFusionError;
use sparkling_engine::{EngineError, ErrorKind};
use sparkling_lakehouse::LakehouseError;

/// The result of job and pipeline operations.
pub type Result<T, E = JobsError> = std::result::Result<T, E>;

/// Everything that can go wrong submitting or running a job or pipeline.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// Running a statement failed in the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A lakehouse command, write or streaming query failed.
    #[error(transparent)]
    Lakehouse(#[from] LakehouseError),
    /// The submission, pipeline spec or lineage setting is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// Something a submission asks for that the cluster does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The run was killed.
    #[error("{0}")]
    Cancelled(String),
    /// A dataset's update or a job's statement failed.
    #[error("{0}")]
    JobFailed(String),
    /// Files, state or a bug.
    #[error("{0}")]
    Internal(String),
}

impl JobsError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            JobsError::Engine(e) => e.kind(),
            JobsError::Lakehouse(e) => e.kind(),
            JobsError::InvalidInput(_) => ErrorKind::InvalidInput,
            JobsError::Unsupported(_) => ErrorKind::Unsupported,
            JobsError::Cancelled(_) => ErrorKind::Cancelled,
            JobsError::JobFailed(_) => ErrorKind::Failed,
            JobsError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<DataFusionError> for JobsError {
    fn from(e: DataFusionError) -> Self {
        JobsError::Engine(e.into())
    }
}

impl From<sparkling_sql::SqlError> for JobsError {
    fn from(e: sparkling_sql::SqlError) -> Self {
        JobsError::Engine(e.into())
    }
}
