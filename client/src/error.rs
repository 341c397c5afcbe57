//! Client errors.

/// Errors of the Sparkling client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The `sc://` URL is malformed.
    #[error("invalid Spark Connect URL {0}")]
    InvalidUrl(String),
    /// The gateway could not be reached.
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// Endpoint tried.
        endpoint: String,
        /// Why it failed.
        message: String,
    },
    /// The server rejected or failed the request; the message is the server's.
    #[error("{message}")]
    Server {
        /// gRPC status code.
        code: tonic::Code,
        /// The server's explanation.
        message: String,
    },
    /// Building or encoding a plan failed.
    #[error("{0}")]
    Plan(String),
    /// The server sent something this client cannot read.
    #[error("unexpected response from server: {0}")]
    Protocol(String),
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        let message = if s.message().is_empty() {
            format!("{:?}", s.code())
        } else {
            s.message().to_string()
        };
        ClientError::Server {
            code: s.code(),
            message,
        }
    }
}

impl From<datafusion::error::DataFusionError> for ClientError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        ClientError::Plan(e.strip_backtrace())
    }
}

impl From<arrow::error::ArrowError> for ClientError {
    fn from(e: arrow::error::ArrowError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

/// Result with a [`ClientError`].
pub type Result<T> = std::result::Result<T, ClientError>;
