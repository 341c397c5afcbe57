//! Jobs submitted to the cluster, as `spark-submit` submits drivers to a standalone
//! master's REST server: a job is a SQL script (`sparkling_sql::script`) whose statements run in
//! order in one session of its own, or a pipeline ([`crate::pipelines`]) whose
//! update runs its datasets in dependency order. A job that starts streaming queries with a
//! processing-time trigger runs until they end, as a Spark driver awaiting its
//! queries does; killing it stops them.
//!
//! The [`SubmissionManager`] keeps every submission under the scheduler's state
//! directory (`submissions/`), so states survive a restart: a job that was waiting on
//! its streaming queries goes on waiting (the queries resume by themselves); a job
//! that was in the middle of a statement is marked failed, saying which statement;
//! a pipeline's update runs again (its streams go on from their checkpoints).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::Services;
use crate::error::{JobsError, Result};
use crate::lineage::{self, DatasetName, EventType, Lineage, RunEvent};
use crate::pipelines::graph::PipelineGraph;
use crate::pipelines::{self, Change, DatasetState, PipelineLineage, PipelineRun, UpdateOptions};
use sparkling_engine::clock::now_ms;
use sparkling_engine::session::Session;
use sparkling_engine::state_store::JsonStore;
use sparkling_lakehouse::streaming::StreamingQueryState;
use sparkling_sql::pipeline_spec::PipelineBundle;

/// How long a killed statement may take to wind down before the job is marked killed.
const KILL_WAIT: Duration = Duration::from_secs(60);

sparkling_engine::state_enum! {
    /// Spark's driver states, as the REST server reports them.
    pub enum DriverState {
        /// Accepted, not started yet.
        Submitted => "SUBMITTED",
        /// Running statements, or waiting on the streaming queries it started.
        Running => "RUNNING",
        /// Every statement ran and every streaming query it started ended well.
        Finished => "FINISHED",
        /// A statement or a streaming query failed.
        Failed => "FAILED",
        /// Killed on request.
        Killed => "KILLED",
        /// The scheduler could not run it.
        Error => "ERROR",
    }
}

impl DriverState {
    /// Whether the job has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Submitted | Self::Running)
    }
}

sparkling_engine::state_enum! {
    /// Where one statement of a submitted job stands.
    pub enum StatementState {
        /// Not run yet.
        Pending => "PENDING",
        /// Running now.
        Running => "RUNNING",
        /// Ran to the end.
        Finished => "FINISHED",
        /// Failed (or was running when the scheduler stopped).
        Failed => "FAILED",
        /// Killed with its job.
        Killed => "KILLED",
    }
}

/// Where one statement of a job stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementRun {
    /// The line of the script it starts on.
    pub line: u64,
    /// Its text.
    pub text: String,
    /// Where it stands.
    pub state: StatementState,
    /// Rows of its result.
    pub rows: Option<u64>,
    /// How long it ran.
    pub duration_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A submitted job, as the scheduler keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// `driver-<yyyyMMddHHmmss>-<nnnn>`.
    pub id: String,
    /// `spark.app.name`, or the file's name.
    pub name: String,
    /// The file it came from (`appResource`).
    pub resource: String,
    /// The script.
    pub content: String,
    /// Spark settings the job's session starts with.
    pub spark_properties: BTreeMap<String, String>,
    /// Where it stands.
    pub state: DriverState,
    /// What happened (the error of a failed job).
    pub message: Option<String>,
    /// When it was accepted, epoch ms.
    pub submitted_ms: i64,
    /// When it started.
    pub started_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// Its statements.
    pub statements: Vec<StatementRun>,
    /// Ids of the streaming queries it started.
    pub streams: Vec<String>,
    /// A pipeline job's datasets (its `content` is then the pipeline's bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<PipelineRun>,
}

/// A `CreateSubmissionRequest`, in the fields Sparkling reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateRequest {
    /// Must be `CreateSubmissionRequest`.
    pub action: Option<String>,
    /// The job's file: a `.sql` script. Read by the scheduler unless `appContent` is
    /// given.
    pub app_resource: Option<String>,
    /// Sparkling: the file's text, sent by `sparkling submit` so that the scheduler
    /// needs no access to the client's files.
    pub app_content: Option<String>,
    /// Spark settings (`spark.app.name` names the job; the rest go to its session).
    #[serde(default)]
    pub spark_properties: BTreeMap<String, String>,
    /// Spark's arguments to the main class; a SQL script takes none.
    #[serde(default)]
    pub app_args: Vec<String>,
}

/// Settings that describe how Spark launches a driver, not the job's session.
fn is_launch_setting(key: &str) -> bool {
    key == "spark.app.name"
        || key == "spark.master"
        || key.starts_with("spark.submit.")
        || key.starts_with("spark.driver.")
        || key.starts_with("spark.executor.")
        || key.starts_with("spark.jars")
        || key.starts_with("spark.files")
}

/// The answer to a kill request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillOutcome {
    /// The job is being killed.
    Killing,
    /// The job had already ended in this state.
    AlreadyEnded(DriverState),
}

/// The cluster's submitted jobs.
#[derive(Clone)]
pub struct SubmissionManager {
    inner: Arc<Inner>,
}

struct Inner {
    services: Services,
    lineage: Lineage,
    store: JsonStore<Submission>,
    jobs: DashMap<String, Submission>,
    kills: DashMap<String, watch::Sender<bool>>,
    counter: AtomicU64,
}

/// `yyyyMMddHHmmss` of an epoch time, UTC.
fn timestamp_digits(ms: i64) -> String {
    let t = sparkling_engine::clock::utc(ms);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

impl SubmissionManager {
    /// A manager keeping its jobs under `state_dir` (nowhere if `None`), with the
    /// jobs stored there loaded (call [`Self::resume_all`] to go on with them).
    pub fn new(services: Services, state_dir: Option<&Path>, lineage: Lineage) -> Result<Self> {
        let store: JsonStore<Submission> = JsonStore::new(state_dir, "submissions", "submission")?;
        let jobs = DashMap::new();
        let mut last = 0;
        for job in store.load_all() {
            let n = job
                .id
                .rsplit('-')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            last = last.max(n + 1);
            jobs.insert(job.id.clone(), job);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                services,
                lineage,
                store,
                jobs,
                kills: DashMap::new(),
                counter: AtomicU64::new(last),
            }),
        })
    }

    /// Goes on with the jobs that had not ended when the scheduler last stopped.
    pub fn resume_all(&self) {
        let pending: Vec<Submission> = self
            .inner
            .jobs
            .iter()
            .filter(|j| !j.state.is_final())
            .map(|j| j.clone())
            .collect();
        for job in pending {
            if job.pipeline.is_some() {
                // An update goes again from the start: streams go on from their
                // checkpoints, views are recomputed.
                tracing::info!("resuming pipeline {} ({})", job.id, job.name);
                self.launch(&job.id, 0);
                continue;
            }
            let next = job
                .statements
                .iter()
                .position(|s| s.state != StatementState::Finished)
                .unwrap_or(job.statements.len());
            let interrupted = job
                .statements
                .get(next)
                .filter(|s| s.state != StatementState::Pending);
            match (job.state, interrupted) {
                (DriverState::Running, Some(statement)) => {
                    let message = format!(
                        "the scheduler stopped while statement {} (line {}) was running; the \
                         statements before it completed, that one may not have: resubmit the \
                         job from there",
                        next + 1,
                        statement.line
                    );
                    self.inner.update(&job.id, |j| {
                        j.statements[next].state = StatementState::Failed;
                        j.statements[next].error = Some(message.clone());
                        j.end(DriverState::Failed, Some(message.clone()));
                    });
                    let inner = Arc::clone(&self.inner);
                    tokio::spawn(async move { inner.stop_streams(&job).await });
                }
                _ => {
                    tracing::info!("resuming submission {} ({})", job.id, job.name);
                    self.launch(&job.id, next);
                }
            }
        }
    }

    /// Accepts a job and starts it; returns its id.
    pub fn create(&self, request: CreateRequest) -> Result<String> {
        if request.action.as_deref() != Some("CreateSubmissionRequest") {
            return Err(JobsError::InvalidInput(format!(
                "expected action CreateSubmissionRequest, got {}",
                request.action.as_deref().unwrap_or("none")
            )));
        }
        let resource = request
            .app_resource
            .filter(|r| !r.trim().is_empty())
            .ok_or_else(|| {
                JobsError::InvalidInput("appResource is missing: name the job's .sql file".into())
            })?;
        if !request.app_args.is_empty() {
            return Err(JobsError::InvalidInput(
                "appArgs are not supported: a SQL script takes no arguments (pass settings in \
                 sparkProperties and read them with ${...} or SET)"
                    .into(),
            ));
        }
        let file = resource
            .strip_prefix("file://")
            .or_else(|| resource.strip_prefix("file:"))
            .unwrap_or(&resource);
        let extension = Path::new(file)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let is_pipeline = match extension.as_deref() {
            Some("sql") => false,
            Some("yaml" | "yml") => true,
            _ => {
                return Err(JobsError::InvalidInput(format!(
                    "appResource {resource} is neither a .sql script nor a pipeline spec (.yml)"
                )));
            }
        };
        let mut default_name = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| resource.clone());
        let (content, statements, pipeline) = if is_pipeline {
            // The spec and its SQL files: sent by `sparkling submit`, or read here.
            let bundle = match request.app_content {
                Some(json) => PipelineBundle::from_json(&json)?,
                None => PipelineBundle::read(Path::new(file))?,
            };
            let graph = PipelineGraph::build(&bundle, &request.spark_properties)?;
            let options = UpdateOptions::of(&graph, &request.spark_properties, "")?;
            default_name = graph.spec.name.clone();
            let content = bundle
                .to_json()
                .map_err(|e| JobsError::Internal(format!("writing the pipeline bundle: {e}")))?;
            (
                content,
                Vec::new(),
                Some(PipelineRun::planned(&graph, options.continuous)),
            )
        } else {
            let content = match request.app_content {
                Some(content) => content,
                None => std::fs::read_to_string(file).map_err(|e| {
                    JobsError::InvalidInput(format!(
                        "cannot read appResource {resource} on the scheduler: {e} (send the \
                         script's text in appContent, as sparkling submit does)"
                    ))
                })?,
            };
            let statements = sparkling_sql::script::split(&content)?
                .into_iter()
                .map(|s| StatementRun {
                    line: s.line,
                    text: s.text,
                    state: StatementState::Pending,
                    rows: None,
                    duration_ms: None,
                    error: None,
                })
                .collect();
            (content, statements, None)
        };
        let name = request
            .spark_properties
            .get("spark.app.name")
            .cloned()
            .unwrap_or(default_name);
        let submitted_ms = now_ms();
        let id = format!(
            "driver-{}-{:04}",
            timestamp_digits(submitted_ms),
            self.inner.counter.fetch_add(1, Ordering::SeqCst)
        );
        let job = Submission {
            id: id.clone(),
            name,
            resource,
            content,
            spark_properties: request.spark_properties,
            state: DriverState::Submitted,
            message: None,
            submitted_ms,
            started_ms: None,
            ended_ms: None,
            statements,
            streams: Vec::new(),
            pipeline,
        };
        self.inner.store.save(&id, &job)?;
        self.inner.jobs.insert(id.clone(), job);
        self.launch(&id, 0);
        Ok(id)
    }

    /// One job.
    pub fn get(&self, id: &str) -> Option<Submission> {
        self.inner.jobs.get(id).map(|j| j.clone())
    }

    /// Every job, oldest first.
    pub fn list(&self) -> Vec<Submission> {
        let mut all: Vec<_> = self.inner.jobs.iter().map(|j| j.clone()).collect();
        all.sort_by(|a, b| (a.submitted_ms, &a.id).cmp(&(b.submitted_ms, &b.id)));
        all
    }

    /// Kills a job: its running statement is interrupted and its streaming queries
    /// stop. `None` if there is no such job.
    pub fn kill(&self, id: &str) -> Option<KillOutcome> {
        let state = self.inner.jobs.get(id)?.state;
        if state.is_final() {
            return Some(KillOutcome::AlreadyEnded(state));
        }
        match self.inner.kills.get(id) {
            Some(kill) => {
                let _ = kill.send(true);
            }
            // Not running in this scheduler (cannot happen after `resume_all`).
            None => self
                .inner
                .update(id, |j| j.end(DriverState::Killed, Some("killed".into()))),
        }
        Some(KillOutcome::Killing)
    }

    /// Runs a job from statement `first` in a task of its own.
    fn launch(&self, id: &str, first: usize) {
        let (kill, killed) = watch::channel(false);
        self.inner.kills.insert(id.to_string(), kill);
        let inner = Arc::clone(&self.inner);
        let id = id.to_string();
        tokio::spawn(async move {
            let run = {
                let inner = Arc::clone(&inner);
                let id = id.clone();
                tokio::spawn(async move { inner.run(&id, first, killed).await })
            };
            if let Err(e) = run.await {
                let message = format!("the job's task failed: {e}");
                inner.update(&id, |j| j.end(DriverState::Error, Some(message.clone())));
            }
            inner.kills.remove(&id);
        });
    }
}

impl Submission {
    fn end(&mut self, state: DriverState, message: Option<String>) {
        self.state = state;
        self.message = message;
        self.ended_ms = Some(now_ms());
    }
}

/// How a job's statements went.
enum Outcome {
    Done,
    Failed(String),
    Killed,
}

impl Inner {
    /// Changes a job and stores it.
    fn update(&self, id: &str, change: impl FnOnce(&mut Submission)) {
        let Some(mut job) = self.jobs.get_mut(id) else {
            return;
        };
        change(&mut job);
        if let Err(e) = self.store.save(id, &job) {
            tracing::error!("recording submission {id}: {e}");
        }
    }

    /// Stops the streaming queries a job started (waiting for their batches to end,
    /// so that the job's end frees the executors).
    async fn stop_streams(&self, job: &Submission) {
        for query in &job.streams {
            if let Err(e) = self.services.streams().stop(query).await {
                tracing::warn!("stopping streaming query {query}: {e}");
            }
        }
    }

    async fn run(&self, id: &str, first: usize, mut killed: watch::Receiver<bool>) {
        let Some(job) = self.jobs.get(id).map(|j| j.clone()) else {
            return;
        };
        self.update(id, |j| {
            j.state = DriverState::Running;
            j.started_ms.get_or_insert(now_ms());
        });
        // A pipeline's graph, read once for its update and its lineage.
        let graph = job.pipeline.as_ref().map(|_| {
            PipelineBundle::from_json(&job.content)
                .map_err(JobsError::from)
                .and_then(|b| PipelineGraph::build(&b, &job.spark_properties))
        });
        let (inputs, outputs) =
            self.datasets_of(&job, graph.as_ref().and_then(|g| g.as_ref().ok()));
        let run_id = lineage::run_id(&format!("{}\n{}", job.id, now_ms()));
        let job_name = job.name.clone();
        let event = |event_type, error: Option<String>, rows: Option<&Submission>| RunEvent {
            event_type,
            run_id: run_id.clone(),
            job: job_name.clone(),
            parent: None,
            inputs: inputs.clone(),
            outputs: outputs
                .iter()
                .map(|o| {
                    let written = rows
                        .and_then(|j| j.pipeline.as_ref())
                        .and_then(|p| p.datasets.iter().find(|d| d.name == o.name))
                        .and_then(|d| d.rows_written);
                    (o.clone(), written)
                })
                .collect(),
            error,
        };
        self.lineage.emit(event(EventType::Start, None, None));
        let ran = match graph {
            Some(graph) => self.run_pipeline(&job, graph, &run_id, &mut killed).await,
            None => self.run_statements(&job, first, &mut killed).await,
        };
        let outcome = match ran {
            Outcome::Done => self.await_streams(id, &mut killed).await,
            other => other,
        };
        let job = self.jobs.get(id).map(|j| j.clone()).unwrap_or(job);
        match outcome {
            Outcome::Done => {
                self.update(id, |j| j.end(DriverState::Finished, None));
                self.lineage
                    .emit(event(EventType::Complete, None, Some(&job)));
            }
            Outcome::Failed(message) => {
                self.stop_streams(&job).await;
                self.lineage
                    .emit(event(EventType::Fail, Some(message.clone()), Some(&job)));
                self.update(id, |j| j.end(DriverState::Failed, Some(message)));
            }
            Outcome::Killed => {
                self.stop_streams(&job).await;
                self.lineage.emit(event(EventType::Abort, None, Some(&job)));
                self.update(id, |j| j.end(DriverState::Killed, Some("killed".into())));
            }
        }
        tracing::info!(
            "submission {id} ({}) ended {}",
            job.name,
            self.jobs.get(id).map(|j| j.state.as_str()).unwrap_or("?")
        );
    }

    async fn run_statements(
        &self,
        job: &Submission,
        first: usize,
        killed: &mut watch::Receiver<bool>,
    ) -> Outcome {
        let session = self
            .services
            .sessions()
            .detached(&uuid::Uuid::new_v4().to_string());
        for (key, value) in &job.spark_properties {
            if is_launch_setting(key) {
                continue;
            }
            if let Err(e) = session.set_conf(key, value) {
                return Outcome::Failed(format!("setting {key}: {e}"));
            }
        }
        let total = job.statements.len();
        for (i, statement) in job.statements.iter().enumerate().skip(first) {
            if *killed.borrow() {
                return Outcome::Killed;
            }
            self.update(&job.id, |j| j.statements[i].state = StatementState::Running);
            let started = Instant::now();
            let result = self
                .run_statement(&session, &job.id, i, &statement.text, killed)
                .await;
            let took = started.elapsed().as_millis() as u64;
            match result {
                Some(Ok(batches)) => {
                    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
                    let started_streams = streaming_query_ids(&statement.text, &batches);
                    self.update(&job.id, |j| {
                        let s = &mut j.statements[i];
                        s.state = StatementState::Finished;
                        s.rows = Some(rows);
                        s.duration_ms = Some(took);
                        for query in started_streams {
                            if !j.streams.contains(&query) {
                                j.streams.push(query);
                            }
                        }
                    });
                }
                Some(Err(e)) => {
                    let message = format!(
                        "statement {} of {total} (line {}) failed: {e}",
                        i + 1,
                        statement.line
                    );
                    self.update(&job.id, |j| {
                        let s = &mut j.statements[i];
                        s.state = StatementState::Failed;
                        s.duration_ms = Some(took);
                        s.error = Some(e.to_string());
                    });
                    return Outcome::Failed(message);
                }
                None => {
                    self.update(&job.id, |j| {
                        let s = &mut j.statements[i];
                        s.state = StatementState::Killed;
                        s.duration_ms = Some(took);
                    });
                    return Outcome::Killed;
                }
            }
        }
        Outcome::Done
    }

    /// The datasets a job reads and writes, for lineage: a pipeline's from its graph,
    /// a script's from its statements (as far as they parse).
    fn datasets_of(
        &self,
        job: &Submission,
        graph: Option<&PipelineGraph>,
    ) -> (Vec<DatasetName>, Vec<DatasetName>) {
        let mut inputs: Vec<DatasetName> = Vec::new();
        let mut outputs: Vec<DatasetName> = Vec::new();
        let add = |list: &mut Vec<DatasetName>, d: DatasetName| {
            if !list.contains(&d) {
                list.push(d);
            }
        };
        if job.pipeline.is_some() {
            if let Some(graph) = graph {
                for d in &graph.datasets {
                    add(&mut outputs, self.lineage.table(&d.name.to_string()));
                }
                for d in &graph.datasets {
                    for input in &d.inputs {
                        if graph.dataset(&input.table).is_none() {
                            add(&mut inputs, self.lineage.table(&input.table.to_string()));
                        }
                    }
                    for source in &d.sources {
                        add(&mut inputs, source.clone());
                    }
                }
            }
            return (inputs, outputs);
        }
        for statement in &job.statements {
            let (reads, writes) = lineage::statement_datasets(&statement.text);
            for table in writes {
                add(&mut outputs, self.lineage.table(&table));
            }
            for read in reads {
                match read {
                    lineage::Read::Table(table) => add(&mut inputs, self.lineage.table(&table)),
                    lineage::Read::Source(source) => add(&mut inputs, source),
                }
            }
        }
        // A table a script creates and reads is its output, not an input.
        inputs.retain(|i| !outputs.contains(i));
        (inputs, outputs)
    }

    /// Runs a pipeline job's update (continuous: until killed).
    async fn run_pipeline(
        &self,
        job: &Submission,
        graph: Result<PipelineGraph>,
        run_id: &str,
        killed: &mut watch::Receiver<bool>,
    ) -> Outcome {
        let prepared = graph.and_then(|graph| {
            let options = UpdateOptions::of(&graph, &job.spark_properties, &job.id)?;
            Ok((graph, options))
        });
        let (graph, options) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let session = self
            .services
            .sessions()
            .detached(&uuid::Uuid::new_v4().to_string());
        for (key, value) in &job.spark_properties {
            if is_launch_setting(key) || !key.starts_with("spark.") {
                continue;
            }
            if let Err(e) = session.set_conf(key, value) {
                return Outcome::Failed(format!("setting {key}: {e}"));
            }
        }
        self.update(&job.id, |j| {
            if let Some(p) = &mut j.pipeline {
                for d in &mut p.datasets {
                    d.state = DatasetState::Pending;
                    d.error = None;
                }
            }
        });
        let id = job.id.clone();
        let report = |change: Change| {
            self.update(&id, |j| match change {
                Change::Dataset(run) => {
                    if let Some(p) = &mut j.pipeline
                        && let Some(d) = p.datasets.iter_mut().find(|d| d.name == run.name)
                    {
                        *d = run;
                    }
                }
                Change::Stream(query) => {
                    if !j.streams.contains(&query) {
                        j.streams.push(query);
                    }
                }
                Change::Updated => {
                    if let Some(p) = &mut j.pipeline {
                        p.updates += 1;
                    }
                }
            })
        };
        let lineage = PipelineLineage {
            lineage: &self.lineage,
            parent: (run_id.to_string(), job.name.clone()),
        };
        let result = pipelines::run(
            &self.services,
            &session,
            &graph,
            &options,
            killed.clone(),
            &report,
            &lineage,
        )
        .await;
        match result {
            Ok(()) => Outcome::Done,
            Err(_) if *killed.borrow() => Outcome::Killed,
            Err(e) => Outcome::Failed(format!("pipeline {}: {e}", graph.spec.name)),
        }
    }

    /// Runs one statement; `None` if the job was killed meanwhile.
    async fn run_statement(
        &self,
        session: &Arc<Session>,
        job: &str,
        index: usize,
        text: &str,
        killed: &mut watch::Receiver<bool>,
    ) -> Option<Result<Vec<arrow::array::RecordBatch>>> {
        let operation_id = uuid::Uuid::new_v4().to_string();
        let (operation, interrupted) =
            session.start_operation(&operation_id, vec![format!("submission:{job}")]);
        let run = async {
            self.services
                .engine
                .run_statement(session, text, &operation, interrupted)
                .await
                .map(|(_, batches)| batches)
                .map_err(JobsError::from)
        };
        tokio::pin!(run);
        let result = tokio::select! {
            result = &mut run => Some(result),
            _ = wait_for_kill(killed) => {
                session.interrupt(|_, _| true);
                if tokio::time::timeout(KILL_WAIT, &mut run).await.is_err() {
                    tracing::warn!("statement {} of submission {job} did not stop in time", index + 1);
                }
                None
            }
        };
        session.end_operation(&operation_id);
        result
    }

    /// Waits for the streaming queries a job started to end.
    async fn await_streams(&self, id: &str, killed: &mut watch::Receiver<bool>) -> Outcome {
        loop {
            let Some(job) = self.jobs.get(id).map(|j| j.clone()) else {
                return Outcome::Done;
            };
            let mut active = false;
            for query in &job.streams {
                match self.services.streams().info(query) {
                    Some(q) if q.state == StreamingQueryState::Active => active = true,
                    Some(q) if q.state == StreamingQueryState::Failed => {
                        return Outcome::Failed(format!(
                            "streaming query {} ({query}) failed: {}",
                            q.definition.name,
                            q.error.as_deref().unwrap_or("no error recorded")
                        ));
                    }
                    _ => {}
                }
            }
            if !active {
                return Outcome::Done;
            }
            tokio::select! {
                _ = wait_for_kill(killed) => return Outcome::Killed,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Resolves when the job is killed (or its kill switch is gone).
async fn wait_for_kill(killed: &mut watch::Receiver<bool>) {
    let _ = killed.wait_for(|k| *k).await;
}

/// The ids of the streaming queries a statement started: `CREATE STREAMING TABLE`
/// and `INSERT ... FROM STREAM` answer with a `query_id` column (classified as the
/// gateway classifies them, so `SHOW STREAMS`, which lists other queries, is not one).
fn streaming_query_ids(text: &str, batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    use arrow::array::AsArray;
    use sparkling_sql::ddl::Statement;
    if !matches!(
        sparkling_sql::ddl::parse(text),
        Ok(Some(
            Statement::CreateStreamingTable { .. } | Statement::InsertStream { .. }
        ))
    ) {
        return Vec::new();
    }
    let mut ids = Vec::new();
    for batch in batches {
        let Some(column) = batch.column_by_name("query_id") else {
            continue;
        };
        if let Some(strings) = column.as_string_opt::<i32>() {
            ids.extend(strings.iter().flatten().map(str::to_string));
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_ids_carry_the_utc_time() {
        assert_eq!(timestamp_digits(0), "19700101000000");
        // 2026-11-30 13:45:07 UTC.
        assert_eq!(timestamp_digits(1_796_046_307_000), "20261130134507");
        assert_eq!(timestamp_digits(951_782_400_000), "20000229000000");
    }

    #[test]
    fn only_statements_that_start_streams_report_them() {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("query_id", arrow::datatypes::DataType::Utf8, false),
        ]));
        let ids = arrow::array::StringArray::from(vec!["q1"]);
        let batch = arrow::array::RecordBatch::try_new(schema, vec![Arc::new(ids)]).unwrap();
        let batches = [batch];
        assert_eq!(
            streaming_query_ids(
                "CREATE STREAMING TABLE t AS SELECT * FROM STREAM(generate_events(kind => 'auth'))",
                &batches
            ),
            ["q1"]
        );
        assert!(streaming_query_ids("SHOW STREAMS", &batches).is_empty());
        assert!(streaming_query_ids("SELECT 'STREAM' AS query_id", &batches).is_empty());
    }

    #[test]
    fn launch_settings_stay_out_of_the_session() {
        assert!(is_launch_setting("spark.app.name"));
        assert!(is_launch_setting("spark.driver.memory"));
        assert!(!is_launch_setting("spark.sql.shuffle.partitions"));
        assert!(!is_launch_setting("spark.sparkling.streaming.trigger"));
    }
}
