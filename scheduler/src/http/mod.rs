//! The scheduler's HTTP port (8080, like the Spark master's): the REST submission
//! server in Spark's shapes ([`submissions`]), the JSON API under `/api/v1/`
//! ([`api`], and the submissions' records), Prometheus metrics ([`metrics`]) and the
//! web UI ([`ui`]).
//!
//! With an auth token configured every request must carry it: as `Authorization:
//! Bearer <token>`, or (for a browser) as `?token=<token>` once, which sets a cookie
//! that carries it from then on. Bodies over [`MAX_BODY`] are refused.

pub mod api;
pub mod metrics;
pub mod submissions;
pub mod ui;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use sparkling_jobs::submissions::SubmissionManager;

/// Largest request body accepted (a job's script travels inline).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// Everything the HTTP handlers reach.
#[derive(Clone)]
pub struct HttpState {
    /// The cluster, sessions and streaming queries.
    pub services: sparkling_jobs::Services,
    /// Submitted jobs.
    pub submissions: SubmissionManager,
}

/// The HTTP routes, behind the token check when `token` is set.
pub fn router(state: HttpState, token: Option<String>) -> Router {
    Router::new()
        .merge(submissions::routes())
        .merge(metrics::routes())
        .merge(api::routes())
        .merge(ui::routes())
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
    let headers = request.headers();
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(sparkling_auth::bearer)
        .map(str::to_string);
    let cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{TOKEN_COOKIE}="))
                .map(str::to_string)
        });
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(percent_decode)
    });
    let valid = |p: &Option<String>| sparkling_auth::check(Some(&token), p.as_deref()).is_ok();
    if valid(&bearer) || valid(&cookie) {
        return next.run(request).await;
    }
    if valid(&query) {
        // A browser keeps the token in a cookie for the next pages.
        let mut response = next.run(request).await;
        if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
        return response;
    }
    if bearer.is_some() || cookie.is_some() || query.is_some() {
        return error_response(StatusCode::UNAUTHORIZED, "invalid token");
    }
    error_response(
        StatusCode::UNAUTHORIZED,
        "this cluster requires a token: send Authorization: Bearer <token> (sparkling \
         submit --token or SPARKLING_AUTH_TOKEN), or open the UI once with ?token=<token>",
    )
}

/// The cookie a browser keeps the token in.
const TOKEN_COOKIE: &str = "sparkling_token";

/// `%XX` escapes (and `+`) of a query value decoded.
fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb+c%3d"), "a/b c=");
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("%zz%"), "%zz%");
    }
}
