//! Running one logical plan as a distributed job and streaming its result back.
//!
//! [`run_job`] submits the plan to the embedded scheduler, waits for the job to finish
//! (status pushes, with a poll as a fallback) and returns a stream that fetches the
//! final stage's partitions from the executors over Arrow Flight. The returned
//! [`JobGuard`] travels with the stream: dropping it early (the client went away or
//! interrupted the operation) cancels the job, and finishing it removes the job's
//! files from the executors.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use ballista_core::client::BallistaClient;
use ballista_core::serde::protobuf::{PartitionLocation, job_status};
use ballista_core::serde::scheduler::PartitionId;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use tokio::sync::watch;

use crate::cluster::{Cluster, MAX_MESSAGE_SIZE};
use crate::error::EngineError;

/// How long a job waits for the first executor to register before it fails.
pub const NO_EXECUTOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a job stands, as far as its guard is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
enum JobState {
    Running,
    Succeeded,
    Failed,
}

/// Ties a job's lifetime to its result stream: dropped while the job runs, it cancels
/// the job; dropped after success (the results were read, or abandoned), it removes the
/// job's files from the executors.
struct JobGuard {
    cluster: Cluster,
    job_id: String,
    state: JobState,
}

impl Drop for JobGuard {
    fn drop(&mut self) {
        match self.state {
            JobState::Running => {
                let cluster = self.cluster.clone();
                let job_id = self.job_id.clone();
                tokio::spawn(async move { cancel_until_stopped(&cluster, &job_id).await });
            }
            JobState::Succeeded => self.cluster.clean_up(&self.job_id),
            // Ballista removes a failed job's files itself.
            JobState::Failed => {}
        }
    }
}

/// Cancels a job, repeating the request while the job is still being planned (Ballista
/// ignores a cancel that arrives before the job is scheduled).
pub async fn cancel_until_stopped(cluster: &Cluster, job_id: &str) {
    for _ in 0..100 {
        cluster.cancel(job_id).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        match cluster.job_status(job_id).await {
            Ok(Some(status)) => match status.status {
                Some(job_status::Status::Queued(_)) | Some(job_status::Status::Running(_)) => {}
                _ => return,
            },
            _ => return,
        }
    }
}

/// How often a running job checks that its executors are still there.
const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// How many times a job is run when executors are lost under it.
pub const MAX_JOB_ATTEMPTS: usize = 3;

/// Why one attempt at a job did not produce a result.
enum AttemptError {
    /// An executor the job ran on was lost; the job can be run again.
    ExecutorLost(String),
    /// Anything else: reported to the client.
    Failed(EngineError),
}

impl From<EngineError> for AttemptError {
    fn from(e: EngineError) -> Self {
        AttemptError::Failed(e)
    }
}

/// Runs `plan` on the cluster and returns its result stream.
///
/// If an executor is lost while the job runs (it stops heartbeating, or its task
/// outputs cannot be fetched and it no longer answers), the attempt is cancelled and
/// discarded, the lost executor is removed, and the job runs again on the executors
/// that are left (at most [`MAX_JOB_ATTEMPTS`] times). A result is only accepted from
/// an attempt during which every executor stayed up, so a lost executor costs time,
/// never correctness. `interrupted` turning true cancels the job and ends the wait
/// with [`EngineError::Cancelled`].
pub async fn run_job(
    cluster: &Cluster,
    name: &str,
    ctx: Arc<SessionContext>,
    plan: &LogicalPlan,
    schema: SchemaRef,
    interrupted: watch::Receiver<bool>,
    on_submit: impl Fn(&str),
) -> Result<SendableRecordBatchStream, EngineError> {
    use crate::counters::{JOB_RETRIES, JOBS_FAILED, JOBS_SUBMITTED, JOBS_SUCCEEDED};
    JOBS_SUBMITTED.inc();
    let mut attempt = 1;
    loop {
        if !cluster.wait_for_executors(NO_EXECUTOR_TIMEOUT).await {
            JOBS_FAILED.inc();
            return Err(EngineError::Unavailable(format!(
                "no executor has registered with the scheduler at {} within {}s; start one with \
                 `sparkling executor --scheduler HOST:PORT`",
                cluster.address(),
                NO_EXECUTOR_TIMEOUT.as_secs()
            )));
        }
        let result = run_attempt(
            cluster,
            name,
            Arc::clone(&ctx),
            plan,
            interrupted.clone(),
            &on_submit,
            attempt > 1,
        )
        .await;
        match result {
            Ok((guard, partitions)) => {
                let stream = futures::stream::iter(partitions)
                    .flatten()
                    // The guard lives exactly as long as the stream.
                    .map(move |batch| {
                        let _ = &guard;
                        batch
                    });
                JOBS_SUCCEEDED.inc();
                return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)));
            }
            Err(AttemptError::ExecutorLost(why)) if attempt < MAX_JOB_ATTEMPTS => {
                tracing::warn!("{why}; running the job again (attempt {})", attempt + 1);
                JOB_RETRIES.inc();
                attempt += 1;
                // The cancelled run may have left task slots counted as busy; once it
                // is gone and no other job runs, every slot is free.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while cluster.running_jobs() > 0 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if cluster.running_jobs() == 0 {
                    cluster.reset_slot_accounting().await;
                }
            }
            Err(AttemptError::ExecutorLost(why)) => {
                JOBS_FAILED.inc();
                return Err(EngineError::JobFailed(format!(
                    "{why}; gave up after {MAX_JOB_ATTEMPTS} attempts"
                )));
            }
            Err(AttemptError::Failed(e)) => {
                JOBS_FAILED.inc();
                return Err(e);
            }
        }
    }
}

/// How long a re-run job may see no status change before its slots are reset.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One run of a job: its final partitions, or why there are none.
async fn run_attempt(
    cluster: &Cluster,
    name: &str,
    ctx: Arc<SessionContext>,
    plan: &LogicalPlan,
    mut interrupted: watch::Receiver<bool>,
    on_submit: &impl Fn(&str),
    after_loss: bool,
) -> Result<(JobGuard, Vec<SendableRecordBatchStream>), AttemptError> {
    let executors: HashSet<String> = cluster.executor_ids().await;
    let (job_id, mut updates) = cluster.submit(name, ctx, plan).await?;
    on_submit(&job_id);
    let mut guard = JobGuard {
        cluster: cluster.clone(),
        job_id: job_id.clone(),
        state: JobState::Running,
    };
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    let mut probe = tokio::time::interval(PROBE_INTERVAL);
    let mut last_update = tokio::time::Instant::now();
    loop {
        let status = tokio::select! {
            _ = probe.tick() => {
                cluster.remove_unreachable_executors().await;
                // A re-run after an executor loss can wait forever on task slots the
                // cancelled run leaked (Ballista 53); if nothing moves while it is the
                // only job, every slot is in fact free.
                if after_loss
                    && last_update.elapsed() > STALL_TIMEOUT
                    && cluster.running_jobs() <= 1
                {
                    tracing::warn!("job {job_id} made no progress for {STALL_TIMEOUT:?}; resetting task slots");
                    cluster.reset_slot_accounting().await;
                    last_update = tokio::time::Instant::now();
                }
                None
            }
            update = updates.recv() => match update {
                Some(status) => {
                    last_update = tokio::time::Instant::now();
                    Some(status)
                }
                // The scheduler dropped the subscription: the job reached a final state.
                None => cluster.job_status(&job_id).await?,
            },
            _ = poll.tick() => cluster.job_status(&job_id).await?,
            // Also when the interrupt came before this wait began (or its sender is gone).
            _ = async { let _ = interrupted.wait_for(|v| *v).await; } => {
                drop(guard);
                return Err(EngineError::Cancelled(format!("operation interrupted; job {job_id} cancelled")).into());
            }
        };
        let lost = lost_executors(cluster, &executors).await;
        if !lost.is_empty() {
            // Dropping the running guard cancels this attempt.
            return Err(AttemptError::ExecutorLost(format!(
                "job {job_id} lost executor(s) {}",
                lost.join(", ")
            )));
        }
        match status.and_then(|s| s.status) {
            Some(job_status::Status::Successful(done)) => {
                guard.state = JobState::Succeeded;
                // Every result partition is opened now, so an executor that died
                // after its tasks finished costs a re-run, as a loss during the job
                // does, instead of failing the result stream.
                let mut streams = Vec::new();
                for location in final_partitions(done.partition_location) {
                    match fetch_partition(location).await {
                        Ok(stream) => streams.push(stream),
                        Err(e) => {
                            let unreachable = cluster.remove_unreachable_executors().await;
                            if !unreachable.is_empty() {
                                return Err(AttemptError::ExecutorLost(format!(
                                    "the results of job {job_id} were lost with executor(s) {}",
                                    unreachable.join(", ")
                                )));
                            }
                            return Err(EngineError::from(e).into());
                        }
                    }
                }
                return Ok((guard, streams));
            }
            Some(job_status::Status::Failed(failed)) => {
                guard.state = JobState::Failed;
                // A task that could not read another executor's output fails the job;
                // if that executor is gone, the failure is the loss, not the query.
                let unreachable = cluster.remove_unreachable_executors().await;
                if !unreachable.is_empty() {
                    return Err(AttemptError::ExecutorLost(format!(
                        "job {job_id} failed after executor(s) {} stopped answering",
                        unreachable.join(", ")
                    )));
                }
                return Err(EngineError::from_job_failure(&job_id, &failed.error).into());
            }
            _ => {}
        }
    }
}

/// Executors of `before` the scheduler no longer has.
async fn lost_executors(cluster: &Cluster, before: &HashSet<String>) -> Vec<String> {
    let now: HashSet<String> = cluster.executor_ids().await;
    before.difference(&now).cloned().collect()
}

/// The final stage's output, one location per partition in partition order (Ballista
/// lists them in completion order and may keep stale entries of re-run tasks).
fn final_partitions(locations: Vec<PartitionLocation>) -> Vec<PartitionLocation> {
    let mut by_partition = BTreeMap::new();
    for loc in locations {
        let key = loc
            .partition_id
            .as_ref()
            .map(|p| p.partition_id)
            .unwrap_or_default();
        by_partition.insert(key, loc);
    }
    by_partition.into_values().collect()
}

/// Opens one result partition on the executor that holds it.
async fn fetch_partition(
    loc: PartitionLocation,
) -> datafusion::error::Result<SendableRecordBatchStream> {
    let fail = |why: String| datafusion::error::DataFusionError::Execution(why);
    let meta = loc
        .executor_meta
        .ok_or_else(|| fail("result location without executor".into()))?;
    let partition: PartitionId = loc
        .partition_id
        .ok_or_else(|| fail("result location without partition id".into()))?
        .into();
    let mut client = BallistaClient::try_new(
        &meta.host,
        meta.port as u16,
        MAX_MESSAGE_SIZE,
        false,
        None,
        3,
        500,
    )
    .await
    .map_err(|e| {
        fail(format!(
            "connecting to executor {} at {}:{}: {e}",
            meta.id, meta.host, meta.port
        ))
    })?;
    let mut stream = client
        .fetch_partition(&meta.id, &partition, loc.file_id, loc.is_sort_shuffle, true)
        .await
        .map_err(|e| fail(format!("fetching results from executor {}: {e}", meta.id)))?;
    // The first batch is read now too: an executor killed while it sends the body
    // fails here, where the loss is still a re-run, rather than in the client's
    // stream (a result is mostly one batch).
    let schema = stream.schema();
    let first = match stream.next().await {
        Some(Ok(batch)) => Some(batch),
        Some(Err(e)) => {
            return Err(fail(format!(
                "reading results from executor {}: {e}",
                meta.id
            )));
        }
        None => None,
    };
    let rest = futures::stream::iter(first.map(Ok)).chain(stream);
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rest)))
}
