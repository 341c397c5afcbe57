//! The lakehouse's error: what can go wrong running Iceberg commands, writes and
//! streaming queries. The engine sees it as an [`EngineError`] (through
//! [`CommandRunner`](sparkling_engine::execute::CommandRunner)); protocol edges map
//! that once.

use datafusion::error::DataFusionError;
use sparkling_engine::{EngineError, ErrorKind};

/// The result of lakehouse operations.
pub type Result<T, E = LakehouseError> = std::result::Result<T, E>;

/// Everything that can go wrong in a lakehouse command, write or streaming query.
#[derive(Debug, thiserror::Error)]
pub enum LakehouseError {
    /// Planning or running a statement failed in the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The statement or definition is malformed, or names a table or namespace that
    /// does not exist (or already does).
    #[error("{0}")]
    InvalidInput(String),
    /// A statement, source or option the lakehouse does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The operation was stopped (a streaming query's stop, an interrupt).
    #[error("{0}")]
    Cancelled(String),
    /// The cluster cannot run the work now.
    #[error("{0}")]
    Unavailable(String),
    /// A write or micro-batch failed while running or committing.
    #[error("{0}")]
    JobFailed(String),
    /// The catalog, the object store or a bug.
    #[error("{0}")]
    Internal(String),
}

impl LakehouseError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LakehouseError::Engine(e) => e.kind(),
            LakehouseError::InvalidInput(_) => ErrorKind::InvalidInput,
            LakehouseError::Unsupported(_) => ErrorKind::Unsupported,
            LakehouseError::Cancelled(_) => ErrorKind::Cancelled,
            LakehouseError::Unavailable(_) => ErrorKind::Unavailable,
            LakehouseError::JobFailed(_) => ErrorKind::Failed,
            LakehouseError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Whether trying again may help: lost executors, an unreachable broker or
    /// catalog; not a bad statement, an unsupported one or a stop.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self.kind(),
            ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::Cancelled
        )
    }
}

impl From<DataFusionError> for LakehouseError {
    fn from(e: DataFusionError) -> Self {
        LakehouseError::Engine(e.into())
    }
}

impl From<sparkling_sql::SqlError> for LakehouseError {
    fn from(e: sparkling_sql::SqlError) -> Self {
        LakehouseError::Engine(e.into())
    }
}

impl From<LakehouseError> for EngineError {
    fn from(e: LakehouseError) -> Self {
        match e {
            LakehouseError::Engine(e) => e,
            LakehouseError::InvalidInput(m) => EngineError::InvalidInput(m),
            LakehouseError::Unsupported(m) => EngineError::Unsupported(m),
            LakehouseError::Cancelled(m) => EngineError::Cancelled(m),
            LakehouseError::Unavailable(m) => EngineError::Unavailable(m),
            LakehouseError::JobFailed(m) => EngineError::JobFailed(m),
            LakehouseError::Internal(m) => EngineError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_pass_through_unchanged() {
        let e: LakehouseError = DataFusionError::Plan("table 'nope' not found".into()).into();
        assert!(!e.is_retryable());
        let back: EngineError = e.into();
        assert!(
            matches!(&back, EngineError::InvalidInput(m) if m.contains("nope")),
            "{back:?}"
        );
        let lost: LakehouseError = EngineError::Unavailable("no executors".into()).into();
        assert!(lost.is_retryable());
        assert!(!LakehouseError::Cancelled("stopped".into()).is_retryable());
    }
}
