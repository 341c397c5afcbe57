//! The UI's pages.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::svg::{Node, Series, compact, dataset_graph, line_chart};
use super::{duration, esc, page, time, url_segment};
use crate::http::HttpState;
use crate::http::api::{cluster_json, table_json, tables_json};
use sparkling_jobs::pipelines::DatasetState;
use sparkling_jobs::submissions::{StatementState, Submission};
use sparkling_lakehouse::streaming::{QueryInfo, StreamingQueryState, Trigger};

pub(super) fn state_span(state: &str) -> String {
    format!("<span class=\"state {0}\">{0}</span>", esc(state))
}

pub(super) fn not_found(here: &str, what: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(here, "Not found", false, &format!("<p>{}</p>", esc(&what))),
    )
        .into_response()
}

fn unavailable(here: &str, error: String) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            here,
            "Unavailable",
            false,
            &format!("<p>{}</p>", esc(&error)),
        ),
    )
        .into_response()
}

fn card(label: &str, value: &str) -> String {
    format!(
        "<div class=\"card\">{}<b>{}</b></div>",
        esc(label),
        esc(value)
    )
}

fn bytes(n: u64) -> String {
    format!("{:.0} MiB", n as f64 / (1024.0 * 1024.0))
}

/// `/`: executors, slots, sessions, memory, and counts of jobs and streams.
pub async fn cluster(State(state): State<HttpState>) -> Response {
    let cluster = cluster_json(&state).await;
    let executors = cluster["executors"].as_array().cloned().unwrap_or_default();
    let jobs = state.submissions.list();
    let running_jobs = jobs.iter().filter(|j| !j.state.is_final()).count();
    let streams = state.services.streams().list();
    let active = streams
        .iter()
        .filter(|q| q.state == StreamingQueryState::Active)
        .count();
    let mut body = String::from("<div class=\"cards\">");
    body.push_str(&card("executors", &executors.len().to_string()));
    body.push_str(&card("task slots", &cluster["taskSlots"].to_string()));
    body.push_str(&card("client sessions", &cluster["sessions"].to_string()));
    body.push_str(&card(
        "scheduler memory",
        &cluster["schedulerResidentBytes"]
            .as_u64()
            .map(bytes)
            .unwrap_or_else(|| "-".into()),
    ));
    body.push_str(&card("running jobs", &running_jobs.to_string()));
    body.push_str(&card("running tasks", &cluster["runningTasks"].to_string()));
    body.push_str(&card("active streams", &active.to_string()));
    body.push_str("</div><h2>Executors</h2>");
    if executors.is_empty() {
        body.push_str(
            "<p class=\"muted\">No executor has registered. Start one with <code>sparkling \
             executor --scheduler HOST:PORT</code>.</p>",
        );
    } else {
        body.push_str(
            "<table><tr><th>id</th><th>address</th><th>task slots</th><th>last heartbeat</th>\
             <th>memory (resident)</th><th>peak memory</th></tr>",
        );
        let memory = |v: &Value| v.as_u64().map(bytes).unwrap_or_else(|| "-".into());
        for e in &executors {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}:{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(e["id"].as_str().unwrap_or("")),
                esc(e["host"].as_str().unwrap_or("")),
                e["port"],
                e["slots"],
                e["lastHeartbeatAgeMs"]
                    .as_u64()
                    .map(|ms| format!("{} ago", duration(ms)))
                    .unwrap_or_else(|| "-".into()),
                memory(&e["residentBytes"]),
                memory(&e["peakResidentBytes"]),
            );
        }
        body.push_str("</table>");
    }
    page("Cluster", "Cluster", true, &body).into_response()
}

/// Steps done out of all: statements finished, or datasets completed.
fn progress(job: &Submission) -> String {
    match &job.pipeline {
        Some(p) => format!(
            "{}/{} datasets",
            p.datasets
                .iter()
                .filter(|d| d.state == DatasetState::Completed)
                .count(),
            p.datasets.len()
        ),
        None => format!(
            "{}/{} statements",
            job.statements
                .iter()
                .filter(|s| s.state == StatementState::Finished)
                .count(),
            job.statements.len()
        ),
    }
}

fn elapsed(job: &Submission) -> String {
    match (job.started_ms, job.ended_ms) {
        (Some(start), Some(end)) => duration((end - start).max(0) as u64),
        (Some(start), None) => format!(
            "{} so far",
            duration((sparkling_engine::clock::now_ms() - start).max(0) as u64)
        ),
        _ => "-".into(),
    }
}

/// `/jobs`: every submission.
pub async fn jobs(State(state): State<HttpState>) -> Response {
    let mut jobs = state.submissions.list();
    jobs.reverse();
    let mut body = String::new();
    if jobs.is_empty() {
        body.push_str(
            "<p class=\"muted\">No jobs yet. Submit one with <code>sparkling submit \
             job.sql</code> or <code>sparkling submit spark-pipeline.yml</code>.</p>",
        );
    } else {
        body.push_str(
            "<table><tr><th>id</th><th>name</th><th>kind</th><th>state</th><th>progress</th>\
             <th>submitted</th><th>duration</th><th>message</th></tr>",
        );
        for job in &jobs {
            let _ = write!(
                body,
                "<tr><td><a href=\"/jobs/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                url_segment(&job.id),
                esc(&job.id),
                esc(&job.name),
                if job.pipeline.is_some() {
                    "pipeline"
                } else {
                    "SQL script"
                },
                state_span(job.state.as_str()),
                progress(job),
                time(job.submitted_ms),
                elapsed(job),
                esc(job.message.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    page("Jobs", "Jobs", true, &body).into_response()
}

/// `/jobs/{id}`: a job's statements, or a pipeline's graph and datasets.
pub async fn job(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Some(job) = state.submissions.get(&id) else {
        return not_found("Jobs", format!("There is no job {id} on this cluster."));
    };
    let mut body = format!(
        "<p>{} &middot; {} &middot; submitted {} &middot; {} &middot; from <code>{}</code></p>",
        state_span(job.state.as_str()),
        progress(&job),
        time(job.submitted_ms),
        elapsed(&job),
        esc(&job.resource)
    );
    if let Some(message) = &job.message {
        let _ = write!(body, "<pre>{}</pre>", esc(message));
    }
    if let Some(pipeline) = &job.pipeline {
        let _ = write!(
            body,
            "<p>Pipeline <b>{}</b> in namespace <a href=\"/tables\">{}</a>, {} mode, {} \
             update(s) completed.</p><h2>Dataset graph</h2>",
            esc(&pipeline.name),
            esc(&pipeline.namespace),
            if pipeline.continuous {
                "continuous"
            } else {
                "one-shot"
            },
            pipeline.updates
        );
        let inputs: Vec<Vec<String>> = pipeline
            .datasets
            .iter()
            .map(|d| d.inputs.iter().map(|i| i.table.to_string()).collect())
            .collect();
        let nodes: Vec<Node> = pipeline
            .datasets
            .iter()
            .zip(&inputs)
            .map(|(d, inputs)| Node {
                name: &d.name,
                label: kind_label(d.kind),
                state: d.state.as_str(),
                inputs: inputs.iter().map(String::as_str).collect(),
            })
            .collect();
        body.push_str(&dataset_graph(&nodes));
        body.push_str(
            "<h2>Datasets</h2><table><tr><th>dataset</th><th>kind</th><th>state</th>\
             <th>rows written</th><th>expectations (passed / failed)</th><th>duration</th>\
             <th>defined at</th><th>error</th></tr>",
        );
        for d in &pipeline.datasets {
            let (ns, table) = d.name.split_once('.').unwrap_or(("", &d.name));
            let mut expectations = String::new();
            for e in &d.expectations {
                let _ = write!(
                    expectations,
                    "{}: {} / {} ({:?})<br>",
                    esc(&e.name),
                    e.passed,
                    e.failed,
                    e.on_violation
                );
            }
            let stream = d
                .query_id
                .as_ref()
                .map(|q| format!(" <a href=\"/streams/{}\">stream</a>", url_segment(q)))
                .unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td><a href=\"/tables/{}/{}\">{}</a>{stream}</td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td>{expectations}</td><td class=\"num\">{}</td>\
                 <td>{}</td><td>{}</td></tr>",
                url_segment(ns),
                url_segment(table),
                esc(&d.name),
                kind_label(d.kind),
                state_span(d.state.as_str()),
                d.rows_written.map(|r| r.to_string()).unwrap_or_default(),
                d.duration_ms.map(duration).unwrap_or_default(),
                esc(&d.defined_at),
                esc(d.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    } else {
        body.push_str(
            "<h2>Statements</h2><table><tr><th>#</th><th>line</th><th>state</th><th>rows</th>\
             <th>duration</th><th>statement</th><th>error</th></tr>",
        );
        for (i, s) in job.statements.iter().enumerate() {
            let _ = write!(
                body,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td>\
                 <td>{}</td></tr>",
                i + 1,
                s.line,
                state_span(s.state.as_str()),
                s.rows.map(|r| r.to_string()).unwrap_or_default(),
                s.duration_ms.map(duration).unwrap_or_default(),
                esc(&s.text),
                esc(s.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    if !job.streams.is_empty() {
        body.push_str("<h2>Streaming queries it started</h2><ul>");
        for q in &job.streams {
            let _ = write!(
                body,
                "<li><a href=\"/streams/{}\">{}</a></li>",
                url_segment(q),
                esc(q)
            );
        }
        body.push_str("</ul>");
    }
    let title = format!("Job {} ({})", job.id, job.name);
    page("Jobs", &title, !job.state.is_final(), &body).into_response()
}

fn kind_label(kind: sparkling_jobs::pipelines::graph::DatasetKind) -> &'static str {
    match kind {
        sparkling_jobs::pipelines::graph::DatasetKind::StreamingTable => "streaming table",
        sparkling_jobs::pipelines::graph::DatasetKind::MaterializedView => "materialized view",
    }
}

fn trigger_label(trigger: &Trigger) -> String {
    match trigger {
        Trigger::ProcessingTime { interval_ms: 0 } => "as fast as possible".into(),
        Trigger::ProcessingTime { interval_ms } => format!("every {}", duration(*interval_ms)),
        Trigger::AvailableNow => "available now".into(),
        Trigger::Once => "once".into(),
    }
}

/// The total lag a progress report's first source recorded.
fn lag(progress: &sparkling_lakehouse::streaming::progress::QueryProgress) -> Option<String> {
    progress
        .sources
        .first()
        .and_then(|s| s.metrics.get("totalLag").cloned())
}

/// `/streams`: every streaming query.
pub async fn streams(State(state): State<HttpState>) -> Response {
    let queries = state.services.streams().list();
    let mut body = String::new();
    if queries.is_empty() {
        body.push_str(
            "<p class=\"muted\">No streaming queries. <code>CREATE STREAMING TABLE ... AS \
             SELECT ... FROM STREAM(...)</code> starts one.</p>",
        );
    } else {
        body.push_str(
            "<table><tr><th>query</th><th>into</th><th>state</th><th>trigger</th>\
             <th>last batch</th><th>input rows/s</th><th>processed rows/s</th>\
             <th>batch duration</th><th>lag</th><th>error</th></tr>",
        );
        for q in &queries {
            let last = q.handle.as_ref().and_then(|h| h.last_progress());
            let d = &q.definition;
            let _ = write!(
                body,
                "<tr><td><a href=\"/streams/{}\">{}</a></td><td><a href=\"/tables/{}/{}\">{}</a>\
                 </td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td>{}</td></tr>",
                url_segment(&d.id),
                esc(&d.name),
                url_segment(&d.target.namespace),
                url_segment(&d.target.name),
                esc(&d.target.to_string()),
                state_span(q.state.as_str()),
                trigger_label(&d.trigger),
                last.as_ref()
                    .map(|p| p.batch_id.to_string())
                    .unwrap_or_default(),
                last.as_ref()
                    .map(|p| compact(p.input_rows_per_second))
                    .unwrap_or_default(),
                last.as_ref()
                    .map(|p| compact(p.processed_rows_per_second))
                    .unwrap_or_default(),
                last.as_ref()
                    .map(|p| duration(p.duration_ms.trigger_execution))
                    .unwrap_or_default(),
                last.as_ref().and_then(lag).unwrap_or_default(),
                esc(q.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    page("Streams", "Streaming queries", true, &body).into_response()
}

/// `/streams/{id}`: a query's definition, charts of its recent batches, offsets
/// and lag.
pub async fn stream(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Some(q) = state.services.streams().info(&id) else {
        return not_found(
            "Streams",
            format!("There is no streaming query {id} on this cluster."),
        );
    };
    let QueryInfo {
        definition: d,
        state: query_state,
        error,
        handle,
    } = q;
    let recent = handle
        .as_ref()
        .map(|h| h.recent_progress())
        .unwrap_or_default();
    let mut body = format!(
        "<p>{} &middot; into <a href=\"/tables/{}/{}\">{}</a> &middot; trigger {} &middot; \
         id <code>{}</code> &middot; defined {}</p>",
        state_span(query_state.as_str()),
        url_segment(&d.target.namespace),
        url_segment(&d.target.name),
        esc(&d.target.to_string()),
        trigger_label(&d.trigger),
        esc(&d.id),
        time(d.created_ms)
    );
    if let Some(status) = handle.as_ref().map(|h| h.status()) {
        let _ = write!(body, "<p class=\"muted\">{}</p>", esc(&status.message));
    }
    if let Some(error) = &error {
        let _ = write!(body, "<pre>{}</pre>", esc(error));
    }
    body.push_str("<h2>Recent batches</h2>");
    body.push_str(&line_chart(
        "rows per second",
        "rows/s",
        &[
            Series {
                name: "input",
                values: recent.iter().map(|p| p.input_rows_per_second).collect(),
                color: "#3366cc",
            },
            Series {
                name: "processed",
                values: recent.iter().map(|p| p.processed_rows_per_second).collect(),
                color: "#2a9d5c",
            },
        ],
    ));
    body.push_str(&line_chart(
        "batch duration",
        "ms",
        &[Series {
            name: "trigger",
            values: recent
                .iter()
                .map(|p| p.duration_ms.trigger_execution as f64)
                .collect(),
            color: "#d0761b",
        }],
    ));
    if let Some(last) = recent.last() {
        let _ = write!(
            body,
            "<h2>Last batch</h2><table><tr><th>batch</th><td class=\"num\">{}</td></tr>\
             <tr><th>started</th><td>{}</td></tr><tr><th>input rows</th><td class=\"num\">{}</td>\
             </tr><tr><th>rows written</th><td class=\"num\">{}</td></tr>\
             <tr><th>dead letters</th><td class=\"num\">{}</td></tr>",
            last.batch_id,
            esc(&last.timestamp),
            last.num_input_rows,
            last.sink.num_output_rows,
            last.num_dead_letter_rows
        );
        for source in &last.sources {
            let _ = write!(
                body,
                "<tr><th>source</th><td>{}</td></tr><tr><th>start offsets</th><td><code>{}</code>\
                 </td></tr><tr><th>end offsets</th><td><code>{}</code></td></tr>\
                 <tr><th>latest offsets</th><td><code>{}</code></td></tr>",
                esc(&source.description),
                esc(source.start_offset.as_deref().unwrap_or("-")),
                esc(&source.end_offset),
                esc(&source.latest_offset)
            );
            for (partition, lag) in &source.metrics {
                let _ = write!(
                    body,
                    "<tr><th>lag {}</th><td class=\"num\">{}</td></tr>",
                    esc(partition),
                    esc(lag)
                );
            }
        }
        body.push_str("</table>");
    }
    let _ = write!(body, "<h2>Query</h2><pre>{}</pre>", esc(&d.query));
    if !d.expectations.is_empty() {
        body.push_str("<h2>Expectations</h2><ul>");
        for e in &d.expectations {
            let _ = write!(
                body,
                "<li>{}: <code>{}</code> ({:?})</li>",
                esc(&e.name),
                esc(&e.condition),
                e.on_violation
            );
        }
        body.push_str("</ul>");
    }
    let live = query_state == StreamingQueryState::Active;
    page(
        "Streams",
        &format!("Streaming query {}", d.name),
        live,
        &body,
    )
    .into_response()
}

/// `/tables`: namespaces and their tables.
pub async fn tables(State(state): State<HttpState>) -> Response {
    let catalog = match tables_json(&state).await {
        Ok(c) => c,
        Err(e) => return unavailable("Tables", e.to_string()),
    };
    let namespaces = catalog["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut body = String::new();
    if namespaces.is_empty() {
        body.push_str("<p class=\"muted\">The catalog has no namespaces.</p>");
    }
    for ns in &namespaces {
        let name = ns["namespace"].as_str().unwrap_or("");
        let _ = write!(body, "<h2>{}</h2>", esc(name));
        let tables = ns["tables"].as_array().cloned().unwrap_or_default();
        if tables.is_empty() {
            body.push_str("<p class=\"muted\">no tables</p>");
            continue;
        }
        body.push_str(
            "<table><tr><th>table</th><th>rows</th><th>snapshots</th><th>last commit</th>\
             <th>format</th></tr>",
        );
        for t in &tables {
            let table = t["name"].as_str().unwrap_or("");
            let _ = write!(
                body,
                "<tr><td><a href=\"/tables/{}/{}\">{}</a></td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{}</td><td>v{}</td></tr>",
                url_segment(name),
                url_segment(table),
                esc(table),
                t["totalRecords"]
                    .as_u64()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
                t["snapshots"],
                t["lastCommitMs"].as_i64().map(time).unwrap_or_default(),
                t["formatVersion"]
            );
        }
        body.push_str("</table>");
    }
    page("Tables", "Tables", false, &body).into_response()
}

/// Summary keys shown for each snapshot, with their column titles.
const SNAPSHOT_KEYS: &[(&str, &str)] = &[
    ("added-records", "added rows"),
    ("deleted-records", "deleted rows"),
    ("total-records", "total rows"),
    ("sparkling.query-id", "streaming query"),
    ("sparkling.batch-id", "batch"),
    ("sparkling.pipeline-update", "pipeline update"),
];

/// `/tables/{ns}/{table}`: columns, partitioning, properties, snapshots.
pub async fn table(
    State(state): State<HttpState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let table = match table_json(&state, &namespace, &name).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return not_found(
                "Tables",
                format!("There is no table {namespace}.{name} in the catalog."),
            );
        }
        Err(e) => return unavailable("Tables", e.to_string()),
    };
    let mut body = format!(
        "<p>Iceberg format v{} &middot; <code>{}</code></p><h2>Columns</h2><table><tr>\
         <th>id</th><th>name</th><th>type</th><th>required</th></tr>",
        table["formatVersion"],
        esc(table["location"].as_str().unwrap_or(""))
    );
    for c in table["columns"].as_array().cloned().unwrap_or_default() {
        let _ = write!(
            body,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c["id"],
            esc(c["name"].as_str().unwrap_or("")),
            esc(c["type"].as_str().unwrap_or("")),
            if c["required"] == true { "yes" } else { "no" }
        );
    }
    body.push_str("</table>");
    let partitioning = table["partitioning"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !partitioning.is_empty() {
        body.push_str(
            "<h2>Partitioning</h2><table><tr><th>field</th><th>source</th><th>transform</th></tr>",
        );
        for p in partitioning {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                esc(p["source"].as_str().unwrap_or("")),
                esc(p["transform"].as_str().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    if let Some(properties) = table["properties"].as_object().filter(|p| !p.is_empty()) {
        body.push_str("<h2>Properties</h2><table>");
        for (k, v) in properties {
            let _ = write!(
                body,
                "<tr><th>{}</th><td>{}</td></tr>",
                esc(k),
                esc(v.as_str().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    let snapshots = table["snapshots"].as_array().cloned().unwrap_or_default();
    let _ = write!(body, "<h2>Snapshots ({})</h2>", snapshots.len());
    if !snapshots.is_empty() {
        body.push_str("<table><tr><th>committed</th><th>snapshot</th><th>operation</th>");
        for (_, title) in SNAPSHOT_KEYS {
            let _ = write!(body, "<th>{title}</th>");
        }
        body.push_str("<th>expectations (passed / failed)</th></tr>");
        for s in snapshots.iter().take(200) {
            let summary = &s["summary"];
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td>",
                s["timestampMs"].as_i64().map(time).unwrap_or_default(),
                s["snapshotId"],
                esc(s["operation"].as_str().unwrap_or(""))
            );
            for (key, _) in SNAPSHOT_KEYS {
                let _ = write!(
                    body,
                    "<td class=\"num\">{}</td>",
                    esc(summary[key].as_str().unwrap_or(""))
                );
            }
            let _ = write!(body, "<td>{}</td></tr>", expectations_cell(summary));
        }
        body.push_str("</table>");
    }
    page("Tables", &format!("{namespace}.{name}"), false, &body).into_response()
}

fn expectations_cell(summary: &Value) -> String {
    let map: std::collections::HashMap<String, String> = summary
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    sparkling_lakehouse::expectations::counts_of(&map)
        .iter()
        .map(|c| format!("{}: {} / {}", esc(&c.name), c.passed, c.failed))
        .collect::<Vec<_>>()
        .join("<br>")
}
