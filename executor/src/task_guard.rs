//! Turns a panic inside a task into a task error.
//!
//! Ballista 53's push-mode executor does not catch panics in task futures: the task
//! never reports back and its job waits until the executor is declared lost.
//! [`TaskGuardEngine`] wraps an execution engine so a panicking task fails with
//! "task panicked: ..." instead.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use ballista_core::serde::protobuf::ShuffleWritePartition;
use ballista_executor::execution_engine::{ExecutionEngine, QueryStageExecutor};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;
use futures::FutureExt;

/// An execution engine whose tasks' panics are caught.
pub struct TaskGuardEngine {
    inner: Arc<dyn ExecutionEngine>,
}

impl TaskGuardEngine {
    /// Guards the tasks of `inner`.
    pub fn new(inner: Arc<dyn ExecutionEngine>) -> Self {
        Self { inner }
    }
}

impl ExecutionEngine for TaskGuardEngine {
    fn create_query_stage_exec(
        &self,
        job_id: String,
        stage_id: usize,
        partition_id: usize,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.inner.create_query_stage_exec(
            job_id,
            stage_id,
            partition_id,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(GuardedStage { inner }))
    }
}

#[derive(Debug)]
struct GuardedStage {
    inner: Arc<dyn QueryStageExecutor>,
}

impl fmt::Display for GuardedStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

/// The message of a panic payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".to_string())
}

#[async_trait]
impl QueryStageExecutor for GuardedStage {
    async fn execute_query_stage(
        &self,
        input_partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let run =
            std::panic::AssertUnwindSafe(self.inner.execute_query_stage(input_partition, context));
        match run.catch_unwind().await {
            Ok(result) => result,
            Err(panic) => Err(DataFusionError::Execution(format!(
                "task panicked: {}",
                panic_message(panic.as_ref())
            ))),
        }
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        self.inner.collect_plan_metrics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert_eq!(panic_message(p.as_ref()), "boom");
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(p.as_ref()), "bang");
    }
}
