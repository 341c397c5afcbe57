//! `/metrics`: the cluster's state in Prometheus' text format, every name starting
//! with `sparkling_`: executors and their slots, heartbeats and memory, distributed
//! queries and tasks, submitted jobs by state, streaming queries by state, and each running query's last batch (rates,
//! duration, lag, dead letters).

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::HttpState;
use sparkling_engine::cluster::ExecutorInfo;
use sparkling_jobs::submissions::DriverState;
use sparkling_lakehouse::streaming::StreamingQueryState;

/// The metrics route.
pub fn routes() -> Router<HttpState> {
    Router::new().route("/metrics", get(metrics))
}

/// A label value with Prometheus' escapes.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one metric family: its help, its type and its samples (labels, value).
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let mut out = String::new();
    let executors = state.services.cluster().executors().await;
    family(
        &mut out,
        "sparkling_executors",
        "gauge",
        "Executors registered with the scheduler.",
        &[(String::new(), executors.len() as f64)],
    );
    family(
        &mut out,
        "sparkling_task_slots",
        "gauge",
        "Task slots of the registered executors.",
        &[(
            String::new(),
            executors.iter().map(|e| e.slots as f64).sum(),
        )],
    );
    // A gauge with one sample per executor that has a value.
    let per_executor =
        |out: &mut String, name: &str, help: &str, value: fn(&ExecutorInfo) -> Option<f64>| {
            let samples: Vec<_> = executors
                .iter()
                .filter_map(|e| Some((format!("executor=\"{}\"", label(&e.id)), value(e)?)))
                .collect();
            family(out, name, "gauge", help, &samples);
        };
    per_executor(
        &mut out,
        "sparkling_executor_heartbeat_age_seconds",
        "Time since each executor's last heartbeat.",
        |e| e.last_heartbeat_age.map(|age| age.as_secs_f64()),
    );
    per_executor(
        &mut out,
        "sparkling_executor_resident_bytes",
        "Resident memory of each executor's process, as of its last heartbeat.",
        |e| e.resident_bytes.map(|b| b as f64),
    );
    let cluster = state.services.cluster();
    let (queued, running) = cluster.queued_and_running_jobs();
    family(
        &mut out,
        "sparkling_queries",
        "gauge",
        "Distributed queries queued or running on the executors.",
        &[
            ("state=\"queued\"".into(), queued as f64),
            ("state=\"running\"".into(), running as f64),
        ],
    );
    family(
        &mut out,
        "sparkling_tasks_running",
        "gauge",
        "Tasks running on the executors.",
        &[(String::new(), cluster.running_tasks().await as f64)],
    );

    use sparkling_engine::counters::*;
    let counter = |out: &mut String, name: &str, help: &str, samples: &[(&str, u64)]| {
        let samples: Vec<(String, f64)> = samples
            .iter()
            .map(|(labels, v)| (labels.to_string(), *v as f64))
            .collect();
        family(out, name, "counter", help, &samples);
    };
    counter(
        &mut out,
        "sparkling_jobs_total",
        "Distributed jobs run on the executors, by outcome.",
        &[
            ("outcome=\"submitted\"", JOBS_SUBMITTED.get()),
            ("outcome=\"succeeded\"", JOBS_SUCCEEDED.get()),
            ("outcome=\"failed\"", JOBS_FAILED.get()),
        ],
    );
    counter(
        &mut out,
        "sparkling_tasks_total",
        "Task attempts the executors reported, by outcome.",
        &[
            ("outcome=\"succeeded\"", TASKS_SUCCEEDED.get()),
            ("outcome=\"failed\"", TASKS_FAILED.get()),
            ("outcome=\"killed\"", TASKS_KILLED.get()),
        ],
    );
    counter(
        &mut out,
        "sparkling_job_retries_total",
        "Job attempts run again because an executor was lost.",
        &[("", JOB_RETRIES.get())],
    );
    counter(
        &mut out,
        "sparkling_iceberg_commits_total",
        "Iceberg snapshots committed, by operation.",
        &[
            ("operation=\"append\"", APPEND_COMMITS.get()),
            ("operation=\"overwrite\"", OVERWRITE_COMMITS.get()),
        ],
    );
    counter(
        &mut out,
        "sparkling_iceberg_commit_conflicts_total",
        "Iceberg commit attempts that lost to another writer and were retried.",
        &[("", COMMIT_CONFLICTS.get())],
    );

    let jobs = state.submissions.list();
    let by_state: Vec<_> = DriverState::ALL
        .iter()
        .map(|s| {
            (
                format!("state=\"{}\"", s.as_str()),
                jobs.iter().filter(|j| j.state == *s).count() as f64,
            )
        })
        .collect();
    family(
        &mut out,
        "sparkling_submissions",
        "gauge",
        "Submitted jobs by driver state.",
        &by_state,
    );

    let queries = state.services.streams().list();
    let by_state: Vec<_> = StreamingQueryState::ALL
        .iter()
        .map(|s| {
            (
                format!("state=\"{s}\""),
                queries.iter().filter(|q| q.state == *s).count() as f64,
            )
        })
        .collect();
    family(
        &mut out,
        "sparkling_streaming_queries",
        "gauge",
        "Streaming queries by state.",
        &by_state,
    );
    let mut last = Vec::new();
    for query in queries
        .iter()
        .filter(|q| q.state == StreamingQueryState::Active)
    {
        let Some(progress) = query.handle.as_ref().and_then(|h| h.last_progress()) else {
            continue;
        };
        let labels = format!(
            "query=\"{}\",name=\"{}\"",
            label(&query.definition.id),
            label(&query.definition.name)
        );
        let lag = progress
            .sources
            .first()
            .and_then(|s| s.metrics.get("totalLag"))
            .and_then(|l| l.parse::<f64>().ok());
        last.push((labels, progress, lag));
    }
    let per_query = |pick: &dyn Fn(
        &sparkling_lakehouse::streaming::progress::QueryProgress,
        Option<f64>,
    ) -> Option<f64>| {
        last.iter()
            .filter_map(|(labels, p, lag)| pick(p, *lag).map(|v| (labels.clone(), v)))
            .collect::<Vec<_>>()
    };
    family(
        &mut out,
        "sparkling_streaming_last_batch_id",
        "gauge",
        "Id of each running query's last committed batch.",
        &per_query(&|p, _| Some(p.batch_id as f64)),
    );
    family(
        &mut out,
        "sparkling_streaming_input_rows_per_second",
        "gauge",
        "Records per second arriving at each running query, over its last batch.",
        &per_query(&|p, _| Some(p.input_rows_per_second)),
    );
    family(
        &mut out,
        "sparkling_streaming_processed_rows_per_second",
        "gauge",
        "Records per second each running query processed in its last batch.",
        &per_query(&|p, _| Some(p.processed_rows_per_second)),
    );
    family(
        &mut out,
        "sparkling_streaming_batch_duration_seconds",
        "gauge",
        "Duration of each running query's last trigger.",
        &per_query(&|p, _| Some(p.duration_ms.trigger_execution as f64 / 1000.0)),
    );
    family(
        &mut out,
        "sparkling_streaming_lag_records",
        "gauge",
        "Records left behind by each running query's last batch (its source's totalLag).",
        &per_query(&|_, lag| lag),
    );
    family(
        &mut out,
        "sparkling_streaming_dead_letter_rows",
        "gauge",
        "Rows each running query's last batch routed to its dead-letter table.",
        &per_query(&|p, _| Some(p.num_dead_letter_rows as f64)),
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
