//! [`Engine`]: the cluster, the sessions and the command runner together, with the
//! one way a SQL statement is run from any front end.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::error::EngineError;
use crate::execute::{CommandRunner, execute_plan};
use crate::session::{Operation, Session, SessionManager};
use crate::statement::{Mode, sql_plan};

/// Runs statements and plans for sessions on the cluster.
#[derive(Clone)]
pub struct Engine {
    cluster: Cluster,
    sessions: Arc<SessionManager>,
    commands: Arc<dyn CommandRunner>,
}

impl Engine {
    /// An engine over `cluster` and `sessions`, running lakehouse commands and
    /// writes with `commands`.
    pub fn new(
        cluster: Cluster,
        sessions: Arc<SessionManager>,
        commands: Arc<dyn CommandRunner>,
    ) -> Self {
        Self {
            cluster,
            sessions,
            commands,
        }
    }

    /// The cluster work runs on.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The sessions.
    pub fn sessions(&self) -> &Arc<SessionManager> {
        &self.sessions
    }

    /// Runs `plan` in `session`; `interrupted` turning true stops it.
    pub async fn execute(
        &self,
        session: &Session,
        plan: LogicalPlan,
        operation: &Arc<Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<SendableRecordBatchStream, EngineError> {
        execute_plan(
            &self.cluster,
            self.commands.as_ref(),
            session,
            plan,
            operation,
            interrupted,
        )
        .await
    }

    /// Runs one SQL statement in `session` to its end and returns its result: how
    /// submitted scripts, pipelines and `spark.sql` commands run SQL.
    pub async fn run_statement(
        &self,
        session: &Session,
        sql: &str,
        operation: &Arc<Operation>,
        interrupted: watch::Receiver<bool>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
        let plan = sql_plan(session, sql, Mode::Execute).await?;
        let stream = self.execute(session, plan, operation, interrupted).await?;
        let schema = stream.schema();
        let batches = datafusion::physical_plan::common::collect(stream).await?;
        Ok((schema, batches))
    }
}
