//! The Iceberg REST routes (`/v1/...`) over [`CatalogService`], and the bearer-token
//! check in front of them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use iceberg::NamespaceIdent;
use iceberg_catalog_rest::{
    CommitTableRequest, CreateNamespaceRequest, CreateTableRequest, RegisterTableRequest,
    RenameTableRequest, UpdateNamespacePropertiesRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::CatalogError;
use crate::service::CatalogService;

/// The routes this catalog serves, as `GET /v1/config` lists them.
pub const ENDPOINTS: &[&str] = &[
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/tables/rename",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
];

type Shared = Arc<CatalogService>;
type Result<T> = std::result::Result<T, CatalogError>;

/// The router for a catalog; `token` (if set) must be presented as a bearer token.
pub fn router(service: CatalogService, token: Option<String>) -> Router {
    let api = Router::new()
        .route("/v1/config", get(config))
        .route(
            "/v1/namespaces",
            get(list_namespaces).post(create_namespace),
        )
        .route(
            "/v1/namespaces/{namespace}",
            get(load_namespace)
                .head(namespace_exists)
                .delete(drop_namespace),
        )
        .route(
            "/v1/namespaces/{namespace}/properties",
            post(update_namespace_properties),
        )
        .route(
            "/v1/namespaces/{namespace}/tables",
            get(list_tables).post(create_table),
        )
        .route(
            "/v1/namespaces/{namespace}/tables/{table}",
            get(load_table)
                .head(table_exists)
                .post(commit_table)
                .delete(drop_table),
        )
        .route(
            "/v1/namespaces/{namespace}/tables/{table}/metrics",
            post(report_metrics),
        )
        .route("/v1/namespaces/{namespace}/register", post(register_table))
        .route("/v1/tables/rename", post(rename_table))
        .fallback(not_found)
        .with_state(Arc::new(service));
    match token {
        Some(token) => api.layer(axum::middleware::from_fn(move |req, next| {
            check_token(token.clone(), req, next)
        })),
        None => api,
    }
}

async fn check_token(token: String, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(sparkling_auth::bearer);
    match sparkling_auth::check(Some(&token), presented) {
        Ok(()) => next.run(req).await,
        Err(sparkling_auth::TokenError::Invalid) => {
            CatalogError::Unauthorized("invalid token".into()).into_response()
        }
        Err(sparkling_auth::TokenError::Missing) => CatalogError::Unauthorized(
            "this catalog requires a bearer token (the client's `token` property)".into(),
        )
        .into_response(),
    }
}

async fn not_found(req: Request) -> CatalogError {
    CatalogError::NotFound(format!(
        "no such route: {} {}",
        req.method(),
        req.uri().path()
    ))
}

/// A JSON body whose parse errors become the spec's 400 error response.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = CatalogError;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(CatalogError::BadRequest(format!(
                "invalid request body: {}",
                std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string())
            ))),
            Err(e) => Err(CatalogError::BadRequest(format!(
                "invalid request body: {e}"
            ))),
        }
    }
}

/// A namespace path segment: levels separated by the unit separator (0x1F).
fn namespace(segment: &str) -> Result<NamespaceIdent> {
    NamespaceIdent::from_vec(segment.split('\u{1f}').map(str::to_string).collect())
        .map_err(|e| CatalogError::BadRequest(format!("invalid namespace {segment:?}: {e}")))
}

fn ok<T: Serialize>(value: T) -> Response {
    Json(value).into_response()
}

async fn config() -> Response {
    ok(json!({
        "defaults": {},
        "overrides": {},
        "endpoints": ENDPOINTS,
    }))
}

async fn list_namespaces(
    State(s): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    let parent = match params.get("parent") {
        Some(p) if !p.is_empty() => Some(namespace(p)?),
        _ => None,
    };
    let namespaces = s.list_namespaces(parent.as_ref()).await?;
    Ok(ok(
        json!({ "namespaces": namespaces, "next-page-token": null }),
    ))
}

async fn create_namespace(
    State(s): State<Shared>,
    Body(req): Body<CreateNamespaceRequest>,
) -> Result<Response> {
    s.create_namespace(&req.namespace, &req.properties).await?;
    Ok(ok(
        json!({ "namespace": req.namespace, "properties": req.properties }),
    ))
}

async fn load_namespace(State(s): State<Shared>, Path(ns): Path<String>) -> Result<Response> {
    let ns = namespace(&ns)?;
    let properties = s.namespace_properties(&ns).await?;
    Ok(ok(json!({ "namespace": ns, "properties": properties })))
}

async fn namespace_exists(State(s): State<Shared>, Path(ns): Path<String>) -> Result<StatusCode> {
    s.namespace_properties(&namespace(&ns)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn drop_namespace(State(s): State<Shared>, Path(ns): Path<String>) -> Result<StatusCode> {
    s.drop_namespace(&namespace(&ns)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_namespace_properties(
    State(s): State<Shared>,
    Path(ns): Path<String>,
    Body(req): Body<UpdateNamespacePropertiesRequest>,
) -> Result<Response> {
    let removals = req.removals.unwrap_or_default();
    let (updated, removed, missing) = s
        .update_namespace_properties(&namespace(&ns)?, &req.updates, &removals)
        .await?;
    Ok(ok(
        json!({ "updated": updated, "removed": removed, "missing": missing }),
    ))
}

async fn list_tables(State(s): State<Shared>, Path(ns): Path<String>) -> Result<Response> {
    let tables = s.list_tables(&namespace(&ns)?).await?;
    Ok(ok(
        json!({ "identifiers": tables, "next-page-token": null }),
    ))
}

async fn create_table(
    State(s): State<Shared>,
    Path(ns): Path<String>,
    Body(req): Body<CreateTableRequest>,
) -> Result<Response> {
    Ok(ok(s.create_table(&namespace(&ns)?, req).await?))
}

async fn load_table(
    State(s): State<Shared>,
    Path((ns, table)): Path<(String, String)>,
) -> Result<Response> {
    Ok(ok(s.load_table(&namespace(&ns)?, &table).await?))
}

async fn table_exists(
    State(s): State<Shared>,
    Path((ns, table)): Path<(String, String)>,
) -> Result<StatusCode> {
    if s.table_exists(&namespace(&ns)?, &table).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(CatalogError::NoSuchTable(format!("{ns}.{table}")))
    }
}

async fn commit_table(
    State(s): State<Shared>,
    Path((ns, table)): Path<(String, String)>,
    Body(req): Body<CommitTableRequest>,
) -> Result<Response> {
    let ns = namespace(&ns)?;
    if let Some(ident) = &req.identifier
        && (ident.namespace() != &ns || ident.name() != table)
    {
        return Err(CatalogError::BadRequest(format!(
            "the commit names {ident} but was sent to {}.{table}",
            ns.join(".")
        )));
    }
    Ok(ok(s.commit_table(&ns, &table, req).await?))
}

async fn drop_table(
    State(s): State<Shared>,
    Path((ns, table)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<StatusCode> {
    let purge = params
        .get("purgeRequested")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    s.drop_table(&namespace(&ns)?, &table, purge).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Scan and commit reports from clients: accepted and logged at debug level.
async fn report_metrics(Path((ns, table)): Path<(String, String)>, body: String) -> StatusCode {
    tracing::debug!("metrics report for {ns}.{table}: {body}");
    StatusCode::NO_CONTENT
}

async fn register_table(
    State(s): State<Shared>,
    Path(ns): Path<String>,
    Body(req): Body<RegisterTableRequest>,
) -> Result<Response> {
    Ok(ok(s.register_table(&namespace(&ns)?, req).await?))
}

async fn rename_table(
    State(s): State<Shared>,
    Body(req): Body<RenameTableRequest>,
) -> Result<StatusCode> {
    s.rename_table(req).await?;
    Ok(StatusCode::NO_CONTENT)
}
