//! The engine's error: what can go wrong running a statement, by kind, so each
//! protocol edge (Spark Connect's gRPC status, the HTTP API) maps it once.

use datafusion::error::DataFusionError;

/// The error that ends an interrupted result stream (inside a
/// `DataFusionError::External`; see [`is_interrupted`]).
#[derive(Debug, thiserror::Error)]
#[error("operation interrupted")]
pub struct Interrupted;

/// Whether `e` is the end of an interrupted stream.
pub fn is_interrupted(e: &DataFusionError) -> bool {
    matches!(e.find_root(), DataFusionError::External(inner) if inner.is::<Interrupted>())
}

/// The result of engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Everything that can go wrong serving a request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed or names something that does not exist (bad SQL,
    /// unknown table or column, type errors, corrupt plans).
    #[error("{0}")]
    InvalidInput(String),
    /// A feature or message the gateway does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The operation was interrupted or cancelled.
    #[error("{0}")]
    Cancelled(String),
    /// The cluster cannot run work (no executors).
    #[error("{0}")]
    Unavailable(String),
    /// A job failed while running.
    #[error("{0}")]
    JobFailed(String),
    /// A bug or an environment problem.
    #[error("{0}")]
    Internal(String),
    /// I/O (binding ports, files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What kind of failure an error is, whichever crate raised it: each protocol edge
/// maps kinds to its own status codes once (gRPC in `sparkling-connect`, HTTP in
/// `sparkling-scheduler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's request is wrong (bad SQL, unknown names, corrupt plans).
    InvalidInput,
    /// Something the cluster does not implement.
    Unsupported,
    /// Stopped or interrupted on request.
    Cancelled,
    /// The cluster cannot run work now; trying later may help.
    Unavailable,
    /// Work failed while running.
    Failed,
    /// A bug or an environment problem.
    Internal,
}

impl EngineError {
    /// The kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::InvalidInput(_) => ErrorKind::InvalidInput,
            EngineError::Unsupported(_) => ErrorKind::Unsupported,
            EngineError::Cancelled(_) => ErrorKind::Cancelled,
            EngineError::Unavailable(_) => ErrorKind::Unavailable,
            EngineError::JobFailed(_) => ErrorKind::Failed,
            EngineError::Internal(_) | EngineError::Io(_) => ErrorKind::Internal,
        }
    }

    /// A job's failure, reported with the innermost error Ballista recorded.
    pub fn from_job_failure(job_id: &str, error: &str) -> Self {
        if error.contains("Cancelled") && error.len() < 40 {
            return EngineError::Cancelled(format!("job {job_id} was cancelled"));
        }
        EngineError::JobFailed(format!(
            "job {job_id} failed: {}",
            simplify_job_error(error)
        ))
    }
}

/// Ballista nests task errors several levels deep ("Job failed due to stage 2 failed:
/// Task failed due to runtime execution error: DataFusionError(Execution(\"...\"))");
/// keep the stage context and the innermost message.
fn simplify_job_error(error: &str) -> String {
    let error = error.replace("\\\"", "\"");
    let stage = error
        .split_once("due to stage ")
        .map(|(_, rest)| rest.split(' ').next().unwrap_or_default().to_string());
    let inner = if let Some((_, rest)) = error.rsplit_once("Execution(\"") {
        // Up to the quote that closes the message; only parentheses follow it.
        match rest.rfind('"') {
            Some(end) if rest[end + 1..].chars().all(|c| c == ')') => &rest[..end],
            _ => rest,
        }
    } else if let Some((_, rest)) = error.rsplit_once("runtime execution error: ") {
        rest
    } else {
        error.as_str()
    };
    match stage {
        Some(stage) if !inner.contains("stage") => format!("stage {stage}: {inner}"),
        _ => inner.to_string(),
    }
}

impl From<sparkling_sql::SqlError> for EngineError {
    fn from(e: sparkling_sql::SqlError) -> Self {
        match e {
            sparkling_sql::SqlError::Invalid(m) => EngineError::InvalidInput(m),
            sparkling_sql::SqlError::Unsupported(m) => EngineError::Unsupported(m),
            e @ sparkling_sql::SqlError::NoStatements => EngineError::InvalidInput(e.to_string()),
        }
    }
}

impl From<DataFusionError> for EngineError {
    fn from(e: DataFusionError) -> Self {
        if is_interrupted(&e) {
            return EngineError::Cancelled(Interrupted.to_string());
        }
        match e.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(..)
            | DataFusionError::SchemaError(..)
            | DataFusionError::Configuration(..) => EngineError::InvalidInput(e.strip_backtrace()),
            DataFusionError::NotImplemented(..) => EngineError::Unsupported(e.strip_backtrace()),
            _ => match &e {
                DataFusionError::Context(..) | DataFusionError::Diagnostic(..) => {
                    EngineError::InvalidInput(e.strip_backtrace())
                }
                _ => EngineError::JobFailed(e.strip_backtrace()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_errors_are_invalid_input() {
        let e: EngineError = DataFusionError::Plan("table 'nope' not found".into()).into();
        assert!(
            matches!(&e, EngineError::InvalidInput(m) if m.contains("nope")),
            "{e:?}"
        );
    }

    #[test]
    fn job_failures_keep_the_innermost_message() {
        let e = EngineError::from_job_failure(
            "abc",
            "Job failed due to stage 2 failed: Task failed due to runtime execution error: DataFusionError(Execution(\"Divide by zero\"))",
        );
        assert_eq!(e.to_string(), "job abc failed: stage 2: Divide by zero");
        // An Arrow error inside, quotes escaped or not, or no wrapper at all.
        let prefix =
            "Job failed due to stage 1 failed: Task failed due to runtime execution error: ";
        for raw in [
            "DataFusionError(Execution(\"ArrowError(DivideByZero)\"))",
            "DataFusionError(Execution(\\\"ArrowError(DivideByZero)\\\"))",
            "ArrowError(DivideByZero)",
        ] {
            let e = EngineError::from_job_failure("j", &format!("{prefix}{raw}"));
            assert_eq!(
                e.to_string(),
                "job j failed: stage 1: ArrowError(DivideByZero)"
            );
        }
    }
}
