//! The JSON API under `/api/v1/` (besides the submissions'): the cluster's executors
//! and its streaming queries with their progress, the data the UI and `/metrics` show.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{HttpState, error_response};
use crate::streaming::QueryInfo;

/// The API routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/streams", get(streams))
        .route("/api/v1/streams/{id}", get(stream))
}

async fn cluster(State(state): State<HttpState>) -> Response {
    let executors: Vec<Value> = state
        .gateway
        .cluster()
        .executors()
        .await
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id,
                "host": e.host,
                "port": e.port,
                "slots": e.slots,
                "lastHeartbeatAgeMs": e.last_heartbeat_age.map(|a| a.as_millis() as u64),
            })
        })
        .collect();
    let slots: u64 = executors.iter().filter_map(|e| e["slots"].as_u64()).sum();
    Json(json!({
        "executors": executors,
        "taskSlots": slots,
        "sessions": state.gateway.sessions().len(),
    }))
    .into_response()
}

/// A query as the API shows it; `recent` adds its recent progress.
fn query_json(query: &QueryInfo, recent: bool) -> Value {
    let mut value = json!({
        "definition": query.definition,
        "state": query.state,
        "error": query.error,
        "lastProgress": query.handle.as_ref().and_then(|h| h.last_progress()),
    });
    if recent {
        value["recentProgress"] = json!(
            query
                .handle
                .as_ref()
                .map(|h| h.recent_progress())
                .unwrap_or_default()
        );
    }
    value
}

async fn streams(State(state): State<HttpState>) -> Response {
    let queries: Vec<Value> = state
        .gateway
        .streams()
        .list()
        .iter()
        .map(|q| query_json(q, false))
        .collect();
    Json(queries).into_response()
}

async fn stream(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match state.gateway.streams().info(&id) {
        Some(query) => Json(query_json(&query, true)).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            format!("no streaming query {id} on this cluster"),
        ),
    }
}
