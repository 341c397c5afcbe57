//! The scheduler's gRPC surface for executors, with three repairs to Ballista 53's
//! recovery from a lost executor.
//!
//! - A task the scheduler itself cancelled (because its stage was rolled back after an
//!   executor was lost) reports back as a plain execution error ("Task cancelled"), and
//!   if that report arrives once the stage runs again it fails the whole job. Here such
//!   reports become `TaskKilled`, retryable and not counted, so the task is simply run
//!   again if it still needs to be.
//! - After an executor is declared lost, the scheduler resets the affected stages but
//!   does not offer the reset tasks to the remaining executors until some other event
//!   arrives, so a job can stall. [`revive_while_jobs_run`] nudges it.
//! - A task bound to an executor just after the scheduler removed it never runs and is
//!   never reset; when that executor registers again its tasks are reset
//!   ([`reset_tasks_bound_while_removed`]).

use std::time::Duration;

use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpc;
use ballista_core::serde::protobuf::{
    CancelJobParams, CancelJobResult, CleanJobDataParams, CleanJobDataResult,
    CreateUpdateSessionParams, CreateUpdateSessionResult, ExecuteQueryParams, ExecuteQueryResult,
    ExecutorStoppedParams, ExecutorStoppedResult, FailedTask, GetJobMetricsParams,
    GetJobMetricsResult, GetJobStatusParams, GetJobStatusResult, HeartBeatParams, HeartBeatResult,
    PollWorkParams, PollWorkResult, RegisterExecutorParams, RegisterExecutorResult,
    RemoveSessionParams, RemoveSessionResult, TaskKilled, TaskStatus, UpdateTaskStatusParams,
    UpdateTaskStatusResult, failed_task, task_status,
};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tonic::{Request, Response, Status};

type Server = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// What an executor reports for a task aborted by a cancel request.
const CANCELLED_TASK_ERROR: &str = "Task failed due to runtime execution error: Cancelled";

/// Ballista's scheduler service with the task-status repair described above.
#[derive(Clone)]
pub struct ExecutorFacingScheduler {
    inner: Server,
}

impl ExecutorFacingScheduler {
    /// Wraps the scheduler.
    pub fn new(inner: Server) -> Self {
        Self { inner }
    }
}

/// Before an executor the scheduler had removed registers again (its heartbeat does
/// that): resets the tasks still bound to it. Removing an executor resets the tasks
/// bound to it then, but a task bound in the moment after (from a slot reserved
/// before) is never launched, since the launch finds no executor, and nothing else
/// resets it: the job would wait for it forever. Nothing can legitimately run on an
/// executor the scheduler does not know, so the reset only re-offers such tasks.
async fn reset_tasks_bound_while_removed(server: &Server, executor_id: &str) {
    match server.state.task_manager.executor_lost(executor_id).await {
        Ok(tasks) if !tasks.is_empty() => tracing::warn!(
            "executor {executor_id} registers again; {} task(s) bound to it while it was removed run again",
            tasks.len()
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("resetting the tasks of executor {executor_id}: {e}"),
    }
}

/// Counts reported task attempts by outcome (after [`repair`]).
fn count(statuses: &[TaskStatus]) {
    use crate::counters::{TASKS_FAILED, TASKS_KILLED, TASKS_SUCCEEDED};
    for status in statuses {
        match &status.status {
            Some(task_status::Status::Successful(_)) => TASKS_SUCCEEDED.inc(),
            Some(task_status::Status::Failed(FailedTask {
                failed_reason: Some(failed_task::FailedReason::TaskKilled(_)),
                ..
            })) => TASKS_KILLED.inc(),
            Some(task_status::Status::Failed(_)) => TASKS_FAILED.inc(),
            _ => {}
        }
    }
}

/// Turns the report of a cancelled task into a retryable kill.
fn repair(statuses: &mut [TaskStatus]) {
    for status in statuses {
        if let Some(task_status::Status::Failed(FailedTask {
            error,
            retryable,
            count_to_failures,
            failed_reason,
        })) = &mut status.status
            && matches!(
                failed_reason,
                Some(failed_task::FailedReason::ExecutionError(_))
            )
            && error.as_str() == CANCELLED_TASK_ERROR
        {
            *retryable = true;
            *count_to_failures = false;
            *failed_reason = Some(failed_task::FailedReason::TaskKilled(TaskKilled {}));
        }
    }
}

#[tonic::async_trait]
impl SchedulerGrpc for ExecutorFacingScheduler {
    type ExecuteQueryPushStream = <Server as SchedulerGrpc>::ExecuteQueryPushStream;

    async fn poll_work(
        &self,
        mut request: Request<PollWorkParams>,
    ) -> Result<Response<PollWorkResult>, Status> {
        repair(&mut request.get_mut().task_status);
        count(&request.get_ref().task_status);
        self.inner.poll_work(request).await
    }

    async fn register_executor(
        &self,
        request: Request<RegisterExecutorParams>,
    ) -> Result<Response<RegisterExecutorResult>, Status> {
        self.inner.register_executor(request).await
    }

    async fn heart_beat_from_executor(
        &self,
        request: Request<HeartBeatParams>,
    ) -> Result<Response<HeartBeatResult>, Status> {
        let executor_id = &request.get_ref().executor_id;
        if self
            .inner
            .state
            .executor_manager
            .get_executor_metadata(executor_id)
            .await
            .is_err()
        {
            reset_tasks_bound_while_removed(&self.inner, executor_id).await;
        }
        self.inner.heart_beat_from_executor(request).await
    }

    async fn update_task_status(
        &self,
        mut request: Request<UpdateTaskStatusParams>,
    ) -> Result<Response<UpdateTaskStatusResult>, Status> {
        repair(&mut request.get_mut().task_status);
        count(&request.get_ref().task_status);
        SchedulerGrpc::update_task_status(&self.inner, request).await
    }

    async fn create_update_session(
        &self,
        request: Request<CreateUpdateSessionParams>,
    ) -> Result<Response<CreateUpdateSessionResult>, Status> {
        self.inner.create_update_session(request).await
    }

    async fn remove_session(
        &self,
        request: Request<RemoveSessionParams>,
    ) -> Result<Response<RemoveSessionResult>, Status> {
        self.inner.remove_session(request).await
    }

    async fn execute_query_push(
        &self,
        request: Request<ExecuteQueryParams>,
    ) -> Result<Response<Self::ExecuteQueryPushStream>, Status> {
        self.inner.execute_query_push(request).await
    }

    async fn execute_query(
        &self,
        request: Request<ExecuteQueryParams>,
    ) -> Result<Response<ExecuteQueryResult>, Status> {
        self.inner.execute_query(request).await
    }

    async fn get_job_status(
        &self,
        request: Request<GetJobStatusParams>,
    ) -> Result<Response<GetJobStatusResult>, Status> {
        self.inner.get_job_status(request).await
    }

    async fn get_job_metrics(
        &self,
        request: Request<GetJobMetricsParams>,
    ) -> Result<Response<GetJobMetricsResult>, Status> {
        self.inner.get_job_metrics(request).await
    }

    async fn executor_stopped(
        &self,
        request: Request<ExecutorStoppedParams>,
    ) -> Result<Response<ExecutorStoppedResult>, Status> {
        self.inner.executor_stopped(request).await
    }

    async fn cancel_job(
        &self,
        request: Request<CancelJobParams>,
    ) -> Result<Response<CancelJobResult>, Status> {
        SchedulerGrpc::cancel_job(&self.inner, request).await
    }

    async fn clean_job_data(
        &self,
        request: Request<CleanJobDataParams>,
    ) -> Result<Response<CleanJobDataResult>, Status> {
        self.inner.clean_job_data(request).await
    }
}

/// While jobs are queued or running, asks the scheduler every `interval` to offer
/// pending tasks to free slots (an empty status update from a live executor does that).
pub async fn revive_while_jobs_run(server: Server, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tick.tick().await;
        if server.running_job_number() == 0 && server.pending_job_number() == 0 {
            continue;
        }
        let executors = match server.state.executor_manager.get_executors_state().await {
            Ok(states) => states,
            Err(_) => continue,
        };
        let Some((live, _, _)) = executors.into_iter().next() else {
            continue;
        };
        let nudge = Request::new(UpdateTaskStatusParams {
            executor_id: live.id,
            task_status: vec![],
        });
        let _ = SchedulerGrpc::update_task_status(&server, nudge).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::serde::protobuf::ExecutionError;

    #[test]
    fn cancelled_tasks_become_retryable_kills() {
        let failed = |error: &str| TaskStatus {
            status: Some(task_status::Status::Failed(FailedTask {
                error: error.to_string(),
                retryable: false,
                count_to_failures: false,
                failed_reason: Some(failed_task::FailedReason::ExecutionError(ExecutionError {})),
            })),
            ..Default::default()
        };
        let mut statuses = vec![failed(CANCELLED_TASK_ERROR), failed("Divide by zero")];
        repair(&mut statuses);
        let reason = |s: &TaskStatus| match &s.status {
            Some(task_status::Status::Failed(f)) => (f.failed_reason.clone(), f.retryable),
            _ => panic!("not failed"),
        };
        assert!(matches!(
            reason(&statuses[0]),
            (Some(failed_task::FailedReason::TaskKilled(_)), true)
        ));
        assert!(matches!(
            reason(&statuses[1]),
            (Some(failed_task::FailedReason::ExecutionError(_)), false)
        ));
    }
}
