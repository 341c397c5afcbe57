//! The JSON API under `/api/v1/` (besides the submissions'): the cluster's executors,
//! its distributed queries with their stages and tasks, its streaming queries with
//! their progress, and the catalog's tables with their schemas and snapshots. The web UI renders the same values these functions build.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use sparkling_connectors::iceberg::IcebergCatalog;

use super::{HttpState, error_response};
use crate::error::{Result, SchedulerError};
use sparkling_lakehouse::streaming::QueryInfo;

/// The API routes.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/queries", get(queries))
        .route("/api/v1/queries/{id}", get(query))
        .route("/api/v1/streams", get(streams))
        .route("/api/v1/streams/{id}", get(stream))
        .route("/api/v1/tables", get(tables))
        .route("/api/v1/tables/{namespace}/{table}", get(table))
}

async fn cluster(State(state): State<HttpState>) -> Response {
    Json(cluster_json(&state).await).into_response()
}

/// The scheduler's resident memory, from `/proc/self/status` (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Executors, slots, sessions and the scheduler's memory.
pub async fn cluster_json(state: &HttpState) -> Value {
    let executors: Vec<Value> = state
        .services
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
                "residentBytes": e.resident_bytes,
                "peakResidentBytes": e.peak_resident_bytes,
            })
        })
        .collect();
    let slots: u64 = executors.iter().filter_map(|e| e["slots"].as_u64()).sum();
    json!({
        "executors": executors,
        "taskSlots": slots,
        "runningTasks": state.services.cluster().running_tasks().await,
        "sessions": state.services.sessions().len(),
        "schedulerResidentBytes": resident_bytes(),
    })
}

/// A query as the API shows it; `recent` adds its recent progress.
pub fn query_json(query: &QueryInfo, recent: bool) -> Value {
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

/// Distributed queries, newest first (without their stages).
async fn queries(State(state): State<HttpState>) -> Response {
    Json(state.services.cluster().jobs_progress().await).into_response()
}

/// One distributed query with its stages and tasks.
async fn query(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match state.services.cluster().job_detail(&id).await {
        Some(job) => Json(job).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            format!("no query {id} on this cluster (finished queries are kept for ten minutes)"),
        ),
    }
}

async fn streams(State(state): State<HttpState>) -> Response {
    Json(streams_json(&state)).into_response()
}

/// Every streaming query with its last progress.
pub fn streams_json(state: &HttpState) -> Vec<Value> {
    state
        .services
        .streams()
        .list()
        .iter()
        .map(|q| query_json(q, false))
        .collect()
}

async fn tables(State(state): State<HttpState>) -> Response {
    match tables_json(&state).await {
        Ok(tables) => Json(tables).into_response(),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn table(
    State(state): State<HttpState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    match table_json(&state, &namespace, &name).await {
        Ok(Some(table)) => Json(table).into_response(),
        Ok(None) => error_response(
            StatusCode::NOT_FOUND,
            format!("no table {namespace}.{name} in the catalog"),
        ),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn catalog(state: &HttpState) -> Result<&IcebergCatalog> {
    state
        .services
        .sessions()
        .iceberg()
        .ok_or(SchedulerError::NoCatalog)
}

/// Every namespace and its tables, with each table's current snapshot.
pub async fn tables_json(state: &HttpState) -> Result<Value> {
    let catalog = catalog(state)?;
    let mut namespaces = Vec::new();
    let mut names = catalog
        .namespaces()
        .await
        .map_err(SchedulerError::catalog)?;
    names.sort();
    for namespace in names {
        let mut tables = Vec::new();
        let mut table_names = catalog
            .table_names(&namespace)
            .await
            .map_err(SchedulerError::catalog)?;
        table_names.sort();
        for name in table_names {
            let Some(table) = catalog
                .load(&namespace, &name)
                .await
                .map_err(SchedulerError::catalog)?
            else {
                continue;
            };
            let metadata = table.metadata();
            let current = metadata.current_snapshot();
            tables.push(json!({
                "name": name,
                "formatVersion": metadata.format_version() as u8,
                "snapshots": metadata.snapshots().count(),
                "currentSnapshotId": current.map(|s| s.snapshot_id()),
                "lastCommitMs": current.map(|s| s.timestamp_ms()),
                "totalRecords": current
                    .and_then(|s| s.summary().additional_properties.get("total-records"))
                    .and_then(|r| r.parse::<u64>().ok()),
            }));
        }
        namespaces.push(json!({"namespace": namespace, "tables": tables}));
    }
    Ok(json!({ "namespaces": namespaces }))
}

/// One table: location, schema, partitioning, properties and snapshots (newest
/// first).
pub async fn table_json(state: &HttpState, namespace: &str, name: &str) -> Result<Option<Value>> {
    let Some(table) = catalog(state)?
        .load(namespace, name)
        .await
        .map_err(SchedulerError::catalog)?
    else {
        return Ok(None);
    };
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    let columns: Vec<Value> = schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "type": f.field_type.to_string(),
                "required": f.required,
            })
        })
        .collect();
    let partitioning: Vec<Value> = metadata
        .default_partition_spec()
        .fields()
        .iter()
        .map(|f| {
            let source = schema
                .field_by_id(f.source_id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            json!({"name": f.name, "source": source, "transform": f.transform.to_string()})
        })
        .collect();
    let mut snapshots: Vec<Value> = metadata
        .snapshots()
        .map(|s| {
            json!({
                "snapshotId": s.snapshot_id(),
                "parentId": s.parent_snapshot_id(),
                "timestampMs": s.timestamp_ms(),
                "operation": s.summary().operation.as_str(),
                "summary": s.summary().additional_properties,
            })
        })
        .collect();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s["timestampMs"].as_i64()));
    Ok(Some(json!({
        "namespace": namespace,
        "name": name,
        "location": metadata.location(),
        "formatVersion": metadata.format_version() as u8,
        "currentSnapshotId": metadata.current_snapshot_id(),
        "columns": columns,
        "partitioning": partitioning,
        "properties": metadata.properties(),
        "snapshots": snapshots,
    })))
}

async fn stream(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    match state.services.streams().info(&id) {
        Some(query) => Json(query_json(&query, true)).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            format!("no streaming query {id} on this cluster"),
        ),
    }
}
