//! The Spark Connect service's error: a message it cannot read or does not
//! implement, or what the engine and lakehouse reported. [`crate::status`] turns it
//! into a gRPC status, the one place that happens.

use datafusion::error::DataFusionError;
use sparkling_engine::{EngineError, ErrorKind};
use sparkling_lakehouse::LakehouseError;

/// The result of Spark Connect operations.
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

/// Everything that can go wrong answering a Spark Connect request.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Planning or running a statement failed in the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A streaming query or lakehouse command failed.
    #[error(transparent)]
    Lakehouse(#[from] LakehouseError),
    /// The request is malformed: a plan, expression or option the client got wrong.
    #[error("{0}")]
    InvalidInput(String),
    /// A relation, command or option this service does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The operation was interrupted.
    #[error("{0}")]
    Cancelled(String),
    /// Encoding results or a bug.
    #[error("{0}")]
    Internal(String),
}

impl ConnectError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConnectError::Engine(e) => e.kind(),
            ConnectError::Lakehouse(e) => e.kind(),
            ConnectError::InvalidInput(_) => ErrorKind::InvalidInput,
            ConnectError::Unsupported(_) => ErrorKind::Unsupported,
            ConnectError::Cancelled(_) => ErrorKind::Cancelled,
            ConnectError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<DataFusionError> for ConnectError {
    fn from(e: DataFusionError) -> Self {
        ConnectError::Engine(e.into())
    }
}

impl From<sparkling_spark::SparkError> for ConnectError {
    fn from(e: sparkling_spark::SparkError) -> Self {
        match e {
            sparkling_spark::SparkError::InvalidInput(m) => ConnectError::InvalidInput(m),
            sparkling_spark::SparkError::Unsupported(m) => ConnectError::Unsupported(m),
            sparkling_spark::SparkError::DataFusion(e) => ConnectError::Engine(e.into()),
        }
    }
}

impl From<sparkling_sql::SqlError> for ConnectError {
    fn from(e: sparkling_sql::SqlError) -> Self {
        ConnectError::Engine(e.into())
    }
}
