//! Distributed jobs as the web UI, the JSON API and `/metrics` show them: each job's
//! stages (the pieces between shuffles) and each stage's tasks (one per partition),
//! with their progress, durations, outputs and errors.
//!
//! Read from Ballista's execution graphs: a running job's from the task manager's
//! cache, a finished one's from the job state, which keeps it until the scheduler's
//! state clean-up (ten minutes after the job ended).

use std::collections::HashMap;

use ballista_core::serde::protobuf::{JobStatus, job_status, task_status};
use ballista_scheduler::state::execution_graph::ExecutionGraph;
use ballista_scheduler::state::execution_stage::{ExecutionStage, StageOutput, TaskInfo};
use ballista_scheduler::state::task_manager::JobInfoCache;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use serde::Serialize;

use crate::cluster::Cluster;

crate::state_enum! {
    /// Where a distributed job stands.
    pub enum JobState {
        /// Waiting to be planned.
        Queued => "QUEUED",
        /// Its stages are running.
        Running => "RUNNING",
        /// Every stage succeeded.
        Succeeded => "SUCCEEDED",
        /// It failed or was cancelled.
        Failed => "FAILED",
    }
}

crate::state_enum! {
    /// Where a stage of a distributed job stands.
    pub enum StageState {
        /// Waiting for its input stages.
        Waiting => "WAITING",
        /// Its inputs are there; no task has started.
        Ready => "READY",
        /// Its tasks are running.
        Running => "RUNNING",
        /// Every task succeeded.
        Succeeded => "SUCCEEDED",
        /// It failed.
        Failed => "FAILED",
    }
}

crate::state_enum! {
    /// Where a task stands.
    pub enum TaskState {
        /// Not launched yet.
        Pending => "PENDING",
        /// Running on an executor.
        Running => "RUNNING",
        /// Done.
        Succeeded => "SUCCEEDED",
        /// It failed.
        Failed => "FAILED",
        /// Killed (its job was cancelled or ended).
        Killed => "KILLED",
    }
}

/// A distributed job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    /// Ballista's job id.
    pub id: String,
    /// What submitted it (`session ...`, `insert into ...`, `expectations of ...`).
    pub name: String,
    /// Where it stands (cancelled jobs fail).
    pub state: JobState,
    /// When it was queued, epoch milliseconds.
    pub queued_at_ms: u64,
    /// When it started running.
    pub started_at_ms: Option<u64>,
    /// When it ended.
    pub ended_at_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Stages in its plan (0 while queued).
    pub stages_total: usize,
    /// Stages whose tasks all succeeded.
    pub stages_completed: usize,
    /// Tasks of the stages that are planned so far.
    pub tasks_total: usize,
    /// Tasks that succeeded.
    pub tasks_completed: usize,
    /// Tasks running on an executor now.
    pub tasks_running: usize,
    /// Task attempts that failed and counted towards the retry limit.
    pub task_failures: usize,
    /// Its stages in id order (only in a job's detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageProgress>>,
}

/// One stage of a job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageProgress {
    /// Stage id within the job.
    pub id: usize,
    /// Attempt number (a stage runs again when the outputs it read were lost).
    pub attempt: usize,
    /// Where it stands.
    pub state: StageState,
    /// Partitions, one task each (unknown while waiting).
    pub partitions: Option<usize>,
    /// Stages whose output it reads.
    pub inputs: Vec<usize>,
    /// Stages that read its output (none for the final stage).
    pub outputs: Vec<usize>,
    /// Tasks that succeeded.
    pub tasks_completed: usize,
    /// Tasks running now.
    pub tasks_running: usize,
    /// Task attempts that failed.
    pub task_failures: usize,
    /// First task start, epoch milliseconds.
    pub started_at_ms: Option<u64>,
    /// Last task end, once every task ended.
    pub ended_at_ms: Option<u64>,
    /// Rows its finished tasks wrote.
    pub output_rows: u64,
    /// Bytes its finished tasks wrote.
    pub output_bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Its physical plan, indented.
    pub plan: String,
    /// Its tasks by partition.
    pub tasks: Vec<TaskProgress>,
}

/// One task: a stage's plan over one partition.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskProgress {
    /// The partition it computes.
    pub partition: usize,
    /// Where it stands.
    pub state: TaskState,
    /// The executor it ran on.
    pub executor: Option<String>,
    /// When it was launched, epoch milliseconds.
    pub launched_at_ms: Option<u64>,
    /// How long it ran (so far, while running).
    pub duration_ms: Option<u64>,
    /// Rows it wrote.
    pub output_rows: Option<u64>,
    /// Bytes it wrote.
    pub output_bytes: Option<u64>,
    /// Failed attempts of this partition.
    pub failures: usize,
    /// Why its last attempt failed.
    pub error: Option<String>,
}

/// A nonzero timestamp.
fn at(ms: impl TryInto<u64>) -> Option<u64> {
    ms.try_into().ok().filter(|&t| t > 0)
}

/// State, queue/start/end times and error of a job status.
fn status_fields(status: &JobStatus) -> (JobState, u64, Option<u64>, Option<u64>, Option<String>) {
    match &status.status {
        Some(job_status::Status::Queued(q)) => (JobState::Queued, q.queued_at, None, None, None),
        Some(job_status::Status::Running(r)) => {
            (JobState::Running, r.queued_at, at(r.started_at), None, None)
        }
        Some(job_status::Status::Successful(s)) => (
            JobState::Succeeded,
            s.queued_at,
            at(s.started_at),
            at(s.ended_at),
            None,
        ),
        Some(job_status::Status::Failed(f)) => (
            JobState::Failed,
            f.queued_at,
            at(f.started_at),
            at(f.ended_at),
            Some(f.error.clone()),
        ),
        None => (JobState::Queued, 0, None, None, None),
    }
}

/// A job known only by its status (queued, or its graph already cleaned up).
fn from_status(status: &JobStatus) -> JobProgress {
    let (state, queued_at_ms, started_at_ms, ended_at_ms, error) = status_fields(status);
    JobProgress {
        id: status.job_id.clone(),
        name: status.job_name.clone(),
        state,
        queued_at_ms,
        started_at_ms,
        ended_at_ms,
        error,
        stages_total: 0,
        stages_completed: 0,
        tasks_total: 0,
        tasks_completed: 0,
        tasks_running: 0,
        task_failures: 0,
        stages: None,
    }
}

fn task(partition: usize, info: Option<&TaskInfo>, failures: usize, now: u64) -> TaskProgress {
    let mut task = TaskProgress {
        partition,
        state: TaskState::Pending,
        executor: None,
        launched_at_ms: None,
        duration_ms: None,
        output_rows: None,
        output_bytes: None,
        failures,
        error: None,
    };
    let Some(info) = info else {
        return task;
    };
    task.launched_at_ms = at(info.launch_time);
    let started = at(info.start_exec_time).or(task.launched_at_ms);
    let ended = at(info.end_exec_time);
    task.duration_ms = match (started, ended) {
        (Some(s), Some(e)) => Some(e.saturating_sub(s)),
        (Some(s), None) => Some(now.saturating_sub(s)),
        _ => None,
    };
    match &info.task_status {
        task_status::Status::Running(r) => {
            task.state = TaskState::Running;
            task.executor = Some(r.executor_id.clone());
        }
        task_status::Status::Successful(s) => {
            task.state = TaskState::Succeeded;
            task.executor = Some(s.executor_id.clone());
            task.output_rows = Some(s.partitions.iter().map(|p| p.num_rows).sum());
            task.output_bytes = Some(s.partitions.iter().map(|p| p.num_bytes).sum());
        }
        task_status::Status::Failed(f) => {
            use ballista_core::serde::protobuf::failed_task::FailedReason;
            task.state = if matches!(f.failed_reason, Some(FailedReason::TaskKilled(_))) {
                TaskState::Killed
            } else {
                TaskState::Failed
            };
            task.error = Some(f.error.clone());
        }
    }
    task
}

fn plan_text(plan: &dyn ExecutionPlan) -> String {
    displayable(plan).indent(false).to_string()
}

/// What a stage's variant knows about it; the variants differ in what they carry.
struct StageParts<'a> {
    id: usize,
    attempt: usize,
    state: StageState,
    partitions: Option<usize>,
    inputs: Vec<usize>,
    outputs: &'a [usize],
    infos: Vec<Option<&'a TaskInfo>>,
    failures: &'a [usize],
    error: Option<&'a str>,
}

/// The ids of the stages a stage reads, in order.
fn input_ids(inputs: &HashMap<usize, StageOutput>) -> Vec<usize> {
    let mut ids: Vec<usize> = inputs.keys().copied().collect();
    ids.sort_unstable();
    ids
}

fn parts(stage: &ExecutionStage) -> StageParts<'_> {
    match stage {
        ExecutionStage::UnResolved(s) => StageParts {
            id: s.stage_id,
            attempt: s.stage_attempt_num,
            state: StageState::Waiting,
            partitions: None,
            inputs: input_ids(&s.inputs),
            outputs: &s.output_links,
            infos: Vec::new(),
            failures: &[],
            error: None,
        },
        ExecutionStage::Resolved(s) => StageParts {
            id: s.stage_id,
            attempt: s.stage_attempt_num,
            state: StageState::Ready,
            partitions: Some(s.partitions),
            inputs: input_ids(&s.inputs),
            outputs: &s.output_links,
            infos: vec![None; s.partitions],
            failures: &[],
            error: None,
        },
        ExecutionStage::Running(s) => StageParts {
            id: s.stage_id,
            attempt: s.stage_attempt_num,
            state: StageState::Running,
            partitions: Some(s.partitions),
            inputs: input_ids(&s.inputs),
            outputs: &s.output_links,
            infos: s.task_infos.iter().map(Option::as_ref).collect(),
            failures: &s.task_failure_numbers,
            error: None,
        },
        ExecutionStage::Successful(s) => StageParts {
            id: s.stage_id,
            attempt: s.stage_attempt_num,
            state: StageState::Succeeded,
            partitions: Some(s.partitions),
            inputs: input_ids(&s.inputs),
            outputs: &s.output_links,
            infos: s.task_infos.iter().map(Some).collect(),
            failures: &[],
            error: None,
        },
        // A failed stage no longer records what it read.
        ExecutionStage::Failed(s) => StageParts {
            id: s.stage_id,
            attempt: s.stage_attempt_num,
            state: StageState::Failed,
            partitions: Some(s.partitions),
            inputs: Vec::new(),
            outputs: &s.output_links,
            infos: s.task_infos.iter().map(Option::as_ref).collect(),
            failures: &[],
            error: Some(&s.error_message),
        },
    }
}

fn stage(stage: &ExecutionStage, now: u64, with_plan: bool) -> StageProgress {
    let StageParts {
        id,
        attempt,
        state,
        partitions,
        inputs,
        outputs,
        infos,
        failures,
        error,
    } = parts(stage);
    let tasks: Vec<TaskProgress> = infos
        .iter()
        .enumerate()
        .map(|(p, info)| task(p, *info, failures.get(p).copied().unwrap_or(0), now))
        .collect();
    let count = |state: TaskState| tasks.iter().filter(|t| t.state == state).count();
    let started_at_ms = tasks.iter().filter_map(|t| t.launched_at_ms).min();
    let all_ended = !tasks.is_empty()
        && tasks.iter().all(|t| {
            matches!(
                t.state,
                TaskState::Succeeded | TaskState::Failed | TaskState::Killed
            )
        });
    let ended_at_ms = infos
        .iter()
        .filter_map(|i| i.and_then(|i| at(i.end_exec_time)))
        .max()
        .filter(|_| all_ended);
    StageProgress {
        id,
        attempt,
        state,
        partitions,
        inputs,
        outputs: outputs.to_vec(),
        tasks_completed: count(TaskState::Succeeded),
        tasks_running: count(TaskState::Running),
        task_failures: failures.iter().sum::<usize>() + count(TaskState::Failed),
        started_at_ms,
        ended_at_ms,
        output_rows: tasks.iter().filter_map(|t| t.output_rows).sum(),
        output_bytes: tasks.iter().filter_map(|t| t.output_bytes).sum(),
        error: error.map(str::to_string),
        plan: if with_plan {
            plan_text(stage.plan())
        } else {
            String::new()
        },
        tasks,
    }
}

/// A job from its execution graph; `detail` keeps its stages and tasks.
pub fn from_graph(graph: &dyn ExecutionGraph, detail: bool) -> JobProgress {
    let now = crate::clock::now_ms() as u64;
    let mut job = from_status(graph.status());
    job.id = graph.job_id().to_string();
    job.name = graph.job_name().to_string();
    let mut stages: Vec<StageProgress> = graph
        .stages()
        .values()
        .map(|s| stage(s, now, detail))
        .collect();
    stages.sort_by_key(|s| s.id);
    job.stages_total = stages.len();
    job.stages_completed = stages
        .iter()
        .filter(|s| s.state == StageState::Succeeded)
        .count();
    job.tasks_total = stages.iter().filter_map(|s| s.partitions).sum();
    job.tasks_completed = stages.iter().map(|s| s.tasks_completed).sum();
    job.tasks_running = stages.iter().map(|s| s.tasks_running).sum();
    job.task_failures = stages.iter().map(|s| s.task_failures).sum();
    if detail {
        job.stages = Some(stages);
    }
    job
}

impl Cluster {
    /// One job as far as the scheduler still knows it; `detail` adds its stages.
    async fn job_progress(
        &self,
        id: &str,
        running: &HashMap<String, JobInfoCache>,
        detail: bool,
    ) -> Option<JobProgress> {
        if let Some(info) = running.get(id) {
            return Some(from_graph(
                info.execution_graph.read().await.as_ref(),
                detail,
            ));
        }
        if let Ok(Some(graph)) = self.job_state.get_execution_graph(id).await {
            return Some(from_graph(graph.as_ref(), detail));
        }
        match self.job_state.get_job_status(id).await {
            Ok(Some(status)) => Some(from_status(&status)),
            _ => None,
        }
    }

    /// The distributed jobs the scheduler knows (queued, running, and those that
    /// ended in the last minutes), newest first, without their stages.
    pub async fn jobs_progress(&self) -> Vec<JobProgress> {
        let ids = match self.job_state.get_all_jobs().await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("listing jobs: {e}");
                return Vec::new();
            }
        };
        let running = self.server.state.task_manager.get_running_job_cache();
        let mut jobs = Vec::with_capacity(ids.len());
        for id in &ids {
            if let Some(job) = self.job_progress(id, &running, false).await {
                jobs.push(job);
            }
        }
        jobs.sort_by(|a, b| b.queued_at_ms.cmp(&a.queued_at_ms).then(b.id.cmp(&a.id)));
        jobs
    }

    /// One distributed job with its stages and tasks.
    pub async fn job_detail(&self, id: &str) -> Option<JobProgress> {
        let running = self.server.state.task_manager.get_running_job_cache();
        self.job_progress(id, &running, true).await
    }

    /// Jobs queued (waiting to be planned) and running.
    pub fn queued_and_running_jobs(&self) -> (usize, usize) {
        (
            self.server.pending_job_number(),
            self.server.running_job_number(),
        )
    }

    /// Tasks running on the executors now.
    pub async fn running_tasks(&self) -> usize {
        let cache = self.server.state.task_manager.get_running_job_cache();
        let mut running = 0;
        for info in cache.values() {
            running += info.execution_graph.read().await.running_tasks().len();
        }
        running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::serde::protobuf::{
        FailedJob, FailedTask, RunningTask, ShuffleWritePartition, SuccessfulTask,
    };

    fn info(status: task_status::Status, launch: u128, start: u128, end: u128) -> TaskInfo {
        TaskInfo {
            task_id: 0,
            scheduled_time: launch,
            launch_time: launch,
            start_exec_time: start,
            end_exec_time: end,
            finish_time: end,
            task_status: status,
        }
    }

    #[test]
    fn tasks_show_state_executor_duration_and_output() {
        let done = info(
            task_status::Status::Successful(SuccessfulTask {
                executor_id: "e1".into(),
                partitions: vec![
                    ShuffleWritePartition {
                        num_rows: 10,
                        num_bytes: 100,
                        ..Default::default()
                    },
                    ShuffleWritePartition {
                        num_rows: 5,
                        num_bytes: 50,
                        ..Default::default()
                    },
                ],
            }),
            1_000,
            1_010,
            1_250,
        );
        let t = task(3, Some(&done), 1, 2_000);
        assert_eq!(
            (t.partition, t.state, t.executor.as_deref(), t.duration_ms),
            (3, TaskState::Succeeded, Some("e1"), Some(240))
        );
        assert_eq!(
            (t.output_rows, t.output_bytes, t.failures),
            (Some(15), Some(150), 1)
        );

        // A running task has run since it was launched, until now.
        let running = info(
            task_status::Status::Running(RunningTask {
                executor_id: "e2".into(),
            }),
            1_000,
            0,
            0,
        );
        let t = task(0, Some(&running), 0, 1_700);
        assert_eq!((t.state, t.duration_ms), (TaskState::Running, Some(700)));

        let failed = info(
            task_status::Status::Failed(FailedTask {
                error: "Divide by zero".into(),
                ..Default::default()
            }),
            1_000,
            1_000,
            1_100,
        );
        let t = task(0, Some(&failed), 0, 5_000);
        assert_eq!(
            (t.state, t.error.as_deref()),
            (TaskState::Failed, Some("Divide by zero"))
        );
        assert_eq!(task(1, None, 0, 0).state, TaskState::Pending);
    }

    #[test]
    fn a_job_known_by_status_only_keeps_its_error() {
        let status = JobStatus {
            job_id: "abc".into(),
            job_name: "session 1".into(),
            status: Some(job_status::Status::Failed(FailedJob {
                error: "boom".into(),
                queued_at: 5,
                started_at: 6,
                ended_at: 9,
            })),
        };
        let job = from_status(&status);
        assert_eq!(
            (
                job.state,
                job.queued_at_ms,
                job.ended_at_ms,
                job.error.as_deref()
            ),
            (JobState::Failed, 5, Some(9), Some("boom"))
        );
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(json["tasksTotal"], 0);
        assert!(json.get("stages").is_none());
    }
}
