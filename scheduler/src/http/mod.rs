//! The scheduler's HTTP port (8080, like the Spark master's): the REST submission
//! server in Spark's shapes ([`submissions`]), the JSON API under `/api/v1/`
//! ([`api`], and the submissions' records) and Prometheus metrics ([`metrics`]).
//!
//! With an auth token configured every request must carry `Authorization: Bearer
//! <token>`. Bodies over [`MAX_BODY`] are refused.

pub mod api;
pub mod metrics;
pub mod submissions;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::gateway::Gateway;
use crate::submissions::SubmissionManager;

/// Largest request body accepted (a job's script travels inline).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Everything the HTTP handlers reach.
#[derive(Clone)]
pub struct HttpState {
    /// The gateway (cluster, sessions, streaming queries).
    pub gateway: Gateway,
    /// Submitted jobs.
    pub submissions: SubmissionManager,
}

/// The HTTP routes, behind the token check when `token` is set.
pub fn router(state: HttpState, token: Option<String>) -> Router {
    Router::new()
        .merge(submissions::routes())
        .merge(metrics::routes())
        .merge(api::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(token, require_token))
}

/// Spark's `ErrorResponse` with an HTTP status.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({
            "action": "ErrorResponse",
            "message": message.into(),
            "serverSparkVersion": sparkling_proto::SPARK_VERSION,
        })),
    )
        .into_response()
}

async fn not_found(request: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn require_token(
    State(token): State<Option<String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(p) if crate::constant_time_eq(p.as_bytes(), token.as_bytes()) => {
            next.run(request).await
        }
        Some(_) => error_response(StatusCode::UNAUTHORIZED, "invalid token"),
        None => error_response(
            StatusCode::UNAUTHORIZED,
            "this cluster requires a token: send Authorization: Bearer <token> \
             (sparkling submit --token or SPARKLING_AUTH_TOKEN)",
        ),
    }
}
