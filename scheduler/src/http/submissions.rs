//! `/v1/submissions/*` in the Spark standalone REST server's shapes
//! (`CreateSubmissionRequest` in; `CreateSubmissionResponse`,
//! `SubmissionStatusResponse`, `KillSubmissionResponse` or `ErrorResponse` out), and
//! the jobs' full records under `/api/v1/submissions`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sparkling_proto::SPARK_VERSION;

use super::{HttpState, error_response};
use sparkling_engine::ErrorKind;
use sparkling_jobs::submissions::{CreateRequest, KillOutcome};

/// The submission routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/v1/submissions/create", post(create))
        .route("/v1/submissions/status/{id}", get(status))
        .route("/v1/submissions/kill/{id}", post(kill))
        .route("/api/v1/submissions", get(list))
        .route("/api/v1/submissions/{id}", get(detail))
}

async fn create(State(state): State<HttpState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return error_response(
                e.status(),
                format!("cannot read the request: {}", e.body_text()),
            );
        }
    };
    let request: CreateRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("Malformed request: not a CreateSubmissionRequest in JSON: {e}"),
            );
        }
    };
    match state.submissions.create(request) {
        Ok(id) => Json(json!({
            "action": "CreateSubmissionResponse",
            "message": format!("Driver successfully submitted as {id}"),
            "serverSparkVersion": SPARK_VERSION,
            "submissionId": id,
            "success": true,
        }))
        .into_response(),
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => {
            error_response(StatusCode::BAD_REQUEST, format!("Malformed request: {e}"))
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn unknown(action: &str, id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "action": action,
            "message": format!("no submission {id} on this cluster"),
            "serverSparkVersion": SPARK_VERSION,
            "submissionId": id,
            "success": false,
        })),
    )
        .into_response()
}

async fn status(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Some(job) = state.submissions.get(&id) else {
        return unknown("SubmissionStatusResponse", &id);
    };
    Json(json!({
        "action": "SubmissionStatusResponse",
        "driverState": job.state,
        "message": job.message,
        "serverSparkVersion": SPARK_VERSION,
        "submissionId": id,
        "success": true,
    }))
    .into_response()
}

async fn kill(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let (success, message) = match state.submissions.kill(&id) {
        None => return unknown("KillSubmissionResponse", &id),
        Some(KillOutcome::Killing) => (true, format!("Kill request for {id} submitted")),
        Some(KillOutcome::AlreadyEnded(s)) => {
            (false, format!("{id} has already ended: {}", s.as_str()))
        }
    };
    Json(json!({
        "action": "KillSubmissionResponse",
        "message": message,
        "serverSparkVersion": SPARK_VERSION,
        "submissionId": id,
        "success": success,
    }))
    .into_response()
}

/// Every job, without its script.
async fn list(State(state): State<HttpState>) -> Response {
    let jobs: Vec<serde_json::Value> = state
        .submissions
        .list()
        .into_iter()
        .map(|job| {
            let mut value = serde_json::to_value(job).unwrap_or_default();
            if let Some(o) = value.as_object_mut() {
                o.remove("content");
            }
            value
        })
        .collect();
    Json(jobs).into_response()
}

async fn detail(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match state.submissions.get(&id) {
        Some(job) => Json(job).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            format!("no submission {id} on this cluster"),
        ),
    }
}
