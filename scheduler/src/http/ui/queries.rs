//! The pages of distributed queries: `/queries` lists what ran on the executors
//! (SQL statements, DataFrame actions, streaming batches, pipeline datasets) with
//! stage and task progress; `/queries/{id}` shows one query's stages, their tasks,
//! durations, outputs and errors, and each stage's plan.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::pages::{not_found, state_span};
use super::{duration, esc, page, time, url_segment};
use crate::http::HttpState;
use sparkling_engine::job_progress::{JobProgress, JobState, StageProgress};

/// How many queries the list shows.
const LISTED: usize = 200;

/// A native progress bar with `done` of `total` beside it (`-` while nothing is
/// planned).
fn progress_bar(done: usize, total: usize, unit: &str) -> String {
    if total == 0 {
        return "-".into();
    }
    format!("<progress value=\"{done}\" max=\"{total}\"></progress> {done}/{total} {unit}")
}

/// How long something has run: start to end, or to now while it runs.
fn run_time(started: Option<u64>, ended: Option<u64>) -> String {
    match started {
        Some(s) => duration(
            ended
                .unwrap_or(sparkling_engine::clock::now_ms() as u64)
                .saturating_sub(s),
        ),
        None => String::new(),
    }
}

/// Bytes as `512 B`, `3.4 KiB`, `12.0 MiB` or `1.2 GiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn rows_and_bytes(rows: u64, bytes: u64) -> String {
    format!("{rows} rows, {}", size(bytes))
}

/// `/queries`: every distributed query the scheduler still knows, newest first.
pub async fn queries(State(state): State<HttpState>) -> Response {
    let jobs = state.services.cluster().jobs_progress().await;
    let mut body = String::from(
        "<p class=\"muted\">Every statement, DataFrame action, streaming batch and pipeline \
         dataset that runs on the executors is a query: its plan is cut into stages at each \
         shuffle, and each stage runs one task per partition. Finished queries stay listed \
         for ten minutes.</p>",
    );
    if jobs.is_empty() {
        body.push_str("<p class=\"muted\">No query has run yet.</p>");
    } else {
        body.push_str(
            "<table><tr><th>id</th><th>name</th><th>state</th><th>stages</th><th>tasks</th>\
             <th>task failures</th><th>queued</th><th>duration</th><th>error</th></tr>",
        );
        for job in jobs.iter().take(LISTED) {
            let _ = write!(
                body,
                "<tr><td><a href=\"/queries/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td>{}</td></tr>",
                url_segment(&job.id),
                esc(&job.id),
                esc(&job.name),
                state_span(job.state.as_str()),
                progress_bar(job.stages_completed, job.stages_total, "stages"),
                progress_bar(job.tasks_completed, job.tasks_total, "tasks"),
                job.task_failures,
                time(job.queued_at_ms as i64),
                run_time(job.started_at_ms, job.ended_at_ms),
                esc(job.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
        if jobs.len() > LISTED {
            let _ = write!(
                body,
                "<p class=\"muted\">{} older queries are not shown.</p>",
                jobs.len() - LISTED
            );
        }
    }
    page("Queries", "Queries", true, &body).into_response()
}

fn stage_ids(ids: &[usize]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter()
        .map(|id| format!("<a href=\"#stage-{id}\">{id}</a>"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stage_section(body: &mut String, stage: &StageProgress) {
    let _ = write!(
        body,
        "<h2 id=\"stage-{id}\">Stage {id} (attempt {attempt}) {state}</h2><p>reads stages {inputs} \
         &middot; read by stages {outputs} &middot; {rows}</p>",
        id = stage.id,
        attempt = stage.attempt,
        state = state_span(stage.state.as_str()),
        inputs = stage_ids(&stage.inputs),
        outputs = stage_ids(&stage.outputs),
        rows = rows_and_bytes(stage.output_rows, stage.output_bytes),
    );
    if let Some(error) = &stage.error {
        let _ = write!(body, "<pre>{}</pre>", esc(error));
    }
    if !stage.tasks.is_empty() {
        body.push_str(
            "<table><tr><th>partition</th><th>state</th><th>executor</th><th>launched</th>\
             <th>duration</th><th>rows written</th><th>bytes written</th><th>failed attempts</th>\
             <th>error</th></tr>",
        );
        for t in &stage.tasks {
            let _ = write!(
                body,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td>{}</td></tr>",
                t.partition,
                state_span(t.state.as_str()),
                esc(t.executor.as_deref().unwrap_or("")),
                t.launched_at_ms
                    .map(|ms| time(ms as i64))
                    .unwrap_or_default(),
                t.duration_ms.map(duration).unwrap_or_default(),
                t.output_rows.map(|r| r.to_string()).unwrap_or_default(),
                t.output_bytes.map(size).unwrap_or_default(),
                t.failures,
                esc(t.error.as_deref().unwrap_or(""))
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<details><summary>plan</summary><pre>{}</pre></details>",
        esc(&stage.plan)
    );
}

fn summary_table(body: &mut String, job: &JobProgress, stages: &[StageProgress]) {
    let _ = write!(
        body,
        "<p>{} &middot; {} &middot; {} &middot; queued {} &middot; ran {}</p>",
        state_span(job.state.as_str()),
        progress_bar(job.stages_completed, job.stages_total, "stages"),
        progress_bar(job.tasks_completed, job.tasks_total, "tasks"),
        time(job.queued_at_ms as i64),
        run_time(job.started_at_ms, job.ended_at_ms),
    );
    if let Some(error) = &job.error {
        let _ = write!(body, "<pre>{}</pre>", esc(error));
    }
    if stages.is_empty() {
        return;
    }
    body.push_str(
        "<h2>Stages</h2><table><tr><th>stage</th><th>state</th><th>tasks</th><th>running</th>\
         <th>task failures</th><th>duration</th><th>output</th><th>reads stages</th></tr>",
    );
    for s in stages {
        let tasks = match s.partitions {
            Some(p) => progress_bar(s.tasks_completed, p, "tasks"),
            None => "waiting for its inputs".into(),
        };
        let _ = write!(
            body,
            "<tr><td><a href=\"#stage-{id}\">{id}</a></td><td>{}</td><td>{tasks}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td></tr>",
            state_span(s.state.as_str()),
            s.tasks_running,
            s.task_failures,
            run_time(s.started_at_ms, s.ended_at_ms),
            rows_and_bytes(s.output_rows, s.output_bytes),
            stage_ids(&s.inputs),
            id = s.id,
        );
    }
    body.push_str("</table>");
}

/// `/queries/{id}`: one query's stages and tasks.
pub async fn query(State(state): State<HttpState>, Path(id): Path<String>) -> Response {
    let Some(job) = state.services.cluster().job_detail(&id).await else {
        return not_found(
            "Queries",
            format!(
                "There is no query {id} on this cluster (finished queries are kept for ten \
                 minutes)."
            ),
        );
    };
    let stages = job.stages.clone().unwrap_or_default();
    let mut body = String::new();
    summary_table(&mut body, &job, &stages);
    for stage in &stages {
        stage_section(&mut body, stage);
    }
    let live = matches!(job.state, JobState::Queued | JobState::Running);
    let title = format!("Query {} ({})", job.id, job.name);
    page("Queries", &title, live, &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_progress_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3_500), "3.4 KiB");
        assert_eq!(size(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(progress_bar(0, 0, "stages"), "-");
        assert_eq!(
            progress_bar(2, 3, "stages"),
            "<progress value=\"2\" max=\"3\"></progress> 2/3 stages"
        );
        assert_eq!(stage_ids(&[]), "-");
        assert_eq!(
            stage_ids(&[1, 2]),
            "<a href=\"#stage-1\">1</a>, <a href=\"#stage-2\">2</a>"
        );
    }
}
