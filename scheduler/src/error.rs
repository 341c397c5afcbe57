//! Errors of the gateway and scheduler, mapped once to gRPC status codes at the edge.

use datafusion::error::DataFusionError;
use tonic::{Code, Status};

/// Everything that can go wrong serving a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
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

impl GatewayError {
    /// A job's failure, reported with the innermost error Ballista recorded.
    pub fn from_job_failure(job_id: &str, error: &str) -> Self {
        if error.contains("Cancelled") && error.len() < 40 {
            return GatewayError::Cancelled(format!("job {job_id} was cancelled"));
        }
        GatewayError::JobFailed(format!(
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

impl From<sparkling_sql::SqlError> for GatewayError {
    fn from(e: sparkling_sql::SqlError) -> Self {
        match e {
            sparkling_sql::SqlError::Invalid(m) => GatewayError::InvalidInput(m),
            sparkling_sql::SqlError::Unsupported(m) => GatewayError::Unsupported(m),
            e @ sparkling_sql::SqlError::NoStatements => GatewayError::InvalidInput(e.to_string()),
        }
    }
}

impl From<DataFusionError> for GatewayError {
    fn from(e: DataFusionError) -> Self {
        match e.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(..)
            | DataFusionError::SchemaError(..)
            | DataFusionError::Configuration(..) => GatewayError::InvalidInput(e.strip_backtrace()),
            DataFusionError::NotImplemented(..) => GatewayError::Unsupported(e.strip_backtrace()),
            _ => match &e {
                DataFusionError::Context(..) | DataFusionError::Diagnostic(..) => {
                    GatewayError::InvalidInput(e.strip_backtrace())
                }
                _ => GatewayError::JobFailed(e.strip_backtrace()),
            },
        }
    }
}

impl From<GatewayError> for Status {
    fn from(e: GatewayError) -> Self {
        let code = match &e {
            GatewayError::InvalidInput(_) => Code::InvalidArgument,
            GatewayError::Unsupported(_) => Code::Unimplemented,
            GatewayError::Cancelled(_) => Code::Cancelled,
            GatewayError::Unavailable(_) => Code::Unavailable,
            GatewayError::JobFailed(_) => Code::Aborted,
            GatewayError::Internal(_) | GatewayError::Io(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_errors_are_invalid_input() {
        let e: GatewayError = DataFusionError::Plan("table 'nope' not found".into()).into();
        let s: Status = e.into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("nope"));
    }

    #[test]
    fn job_failures_keep_the_innermost_message() {
        let e = GatewayError::from_job_failure(
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
            let e = GatewayError::from_job_failure("j", &format!("{prefix}{raw}"));
            assert_eq!(
                e.to_string(),
                "job j failed: stage 1: ArrowError(DivideByZero)"
            );
        }
    }
}
