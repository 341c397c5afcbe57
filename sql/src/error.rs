//! The one error of SQL text handling: the text is wrong, or asks for something
//! Sparkling does not do. The engine maps it to its own error at the crate boundary.

/// What is wrong with a statement, a script or a pipeline spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// The text is malformed or names something wrongly (the message says what and where).
    #[error("{0}")]
    Invalid(String),
    /// The text asks for something Sparkling does not support.
    #[error("{0}")]
    Unsupported(String),
    /// A script or file holds no statement (only blanks and comments).
    #[error("the script has no statements")]
    NoStatements,
}

/// The result of SQL text handling.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
