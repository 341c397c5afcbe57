//! The translation's error: a plan or expression Spark would reject, or one this
//! crate does not implement yet.

use datafusion::error::DataFusionError;

/// The result of translating Spark plans.
pub type Result<T, E = SparkError> = std::result::Result<T, E>;

/// What can go wrong translating a Spark Connect plan.
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    /// The plan is malformed or refers to something that does not exist (an unknown
    /// column or function, a wrong argument).
    #[error("{0}")]
    InvalidInput(String),
    /// A relation, expression or option not implemented here.
    #[error("{0}")]
    Unsupported(String),
    /// DataFusion refused the plan it was given.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

impl SparkError {
    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        SparkError::InvalidInput(message.into())
    }

    /// An unsupported-feature error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        SparkError::Unsupported(message.into())
    }
}
