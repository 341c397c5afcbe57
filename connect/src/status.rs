//! The engine's errors as gRPC statuses: the one place Spark Connect answers map
//! [`EngineError`] kinds to status codes.

use sparkling_engine::EngineError;
use tonic::{Code, Status};

/// The gRPC status of an engine error.
pub fn status(e: EngineError) -> Status {
    let code = match &e {
        EngineError::InvalidInput(_) => Code::InvalidArgument,
        EngineError::Unsupported(_) => Code::Unimplemented,
        EngineError::Cancelled(_) => Code::Cancelled,
        EngineError::Unavailable(_) => Code::Unavailable,
        EngineError::JobFailed(_) => Code::Aborted,
        EngineError::Internal(_) | EngineError::Io(_) => Code::Internal,
    };
    Status::new(code, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    #[test]
    fn sql_errors_are_invalid_arguments() {
        let e: EngineError = DataFusionError::Plan("table 'nope' not found".into()).into();
        let s = status(e);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("nope"));
    }
}
