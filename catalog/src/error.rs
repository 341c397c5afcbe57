//! Catalog errors and how they map to the REST spec's error responses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong serving a catalog request.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request body or parameters are malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// No such route.
    #[error("{0}")]
    NotFound(String),
    /// No such namespace.
    #[error("namespace does not exist: {0}")]
    NoSuchNamespace(String),
    /// No such table.
    #[error("table does not exist: {0}")]
    NoSuchTable(String),
    /// The namespace exists already.
    #[error("namespace already exists: {0}")]
    NamespaceAlreadyExists(String),
    /// The table exists already.
    #[error("table already exists: {0}")]
    TableAlreadyExists(String),
    /// The namespace still holds tables or namespaces.
    #[error("namespace is not empty: {0}")]
    NamespaceNotEmpty(String),
    /// A commit requirement failed or another commit won the race: refresh and retry.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The server is misconfigured (database, warehouse).
    #[error("{0}")]
    Config(String),
    /// The catalog database failed.
    #[error("catalog database error: {0}")]
    Database(String),
    /// Reading or writing metadata files failed.
    #[error("{0}")]
    Storage(String),
}

impl CatalogError {
    /// The HTTP status and the Iceberg exception type clients expect.
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequestException"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "NotAuthorizedException"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NotFoundException"),
            Self::NoSuchNamespace(_) => (StatusCode::NOT_FOUND, "NoSuchNamespaceException"),
            Self::NoSuchTable(_) => (StatusCode::NOT_FOUND, "NoSuchTableException"),
            Self::NamespaceAlreadyExists(_) => (StatusCode::CONFLICT, "AlreadyExistsException"),
            Self::TableAlreadyExists(_) => (StatusCode::CONFLICT, "AlreadyExistsException"),
            Self::NamespaceNotEmpty(_) => (StatusCode::CONFLICT, "NamespaceNotEmptyException"),
            Self::CommitFailed(_) => (StatusCode::CONFLICT, "CommitFailedException"),
            Self::Config(_) | Self::Database(_) | Self::Storage(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "ServerErrorException")
            }
        }
    }

    /// Turns an iceberg library error into a catalog error: invalid metadata changes
    /// are the client's fault, commit conflicts are retryable, the rest are storage.
    pub fn from_iceberg(e: iceberg::Error) -> Self {
        use iceberg::ErrorKind;
        match e.kind() {
            ErrorKind::CatalogCommitConflicts => Self::CommitFailed(e.to_string()),
            ErrorKind::DataInvalid
            | ErrorKind::FeatureUnsupported
            | ErrorKind::PreconditionFailed => Self::BadRequest(e.to_string()),
            _ => Self::Storage(e.to_string()),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorModel<'a>,
}

#[derive(Serialize)]
struct ErrorModel<'a> {
    message: String,
    r#type: &'a str,
    code: u16,
}

impl IntoResponse for CatalogError {
    fn into_response(self) -> Response {
        let (status, kind) = self.status_and_type();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let body = ErrorBody {
            error: ErrorModel {
                message: self.to_string(),
                r#type: kind,
                code: status.as_u16(),
            },
        };
        (status, Json(body)).into_response()
    }
}
