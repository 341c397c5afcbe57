//! Runs a logical plan where it belongs and returns its result stream.
//!
//! Plans that read data (files, tables, inline rows, ranges) run as distributed jobs
//! on the executors. Plans that read nothing (`SELECT 1`), commands, and plans over
//! the gateway's own metadata (`information_schema`) run in the scheduler, the way
//! Spark's driver runs local relations itself. Lakehouse commands and Iceberg writes
//! go to the [`CommandRunner`].

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{MemTable, source_as_provider};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio::sync::watch;

use async_trait::async_trait;

use crate::cluster::Cluster;
use crate::error::{EngineError, Interrupted};
use crate::job::run_job;
use crate::session::{Operation, Session};
use crate::statement::is_command;

/// Where a plan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the gateway process.
    Gateway,
    /// As a job on the executors.
    Cluster,
}

/// Decides where `plan` runs.
pub fn placement(plan: &LogicalPlan) -> Placement {
    if is_command(plan) {
        return Placement::Gateway;
    }
    // A plan that returns no rows (schema discovery: `LIMIT 0`) needs no executors.
    if let LogicalPlan::Limit(limit) = plan
        && matches!(
            limit.get_fetch_type(),
            Ok(datafusion::logical_expr::FetchType::Literal(Some(0)))
        )
    {
        return Placement::Gateway;
    }
    let (scans, local_only) = scans(plan);
    if scans == 0 || local_only {
        Placement::Gateway
    } else {
        Placement::Cluster
    }
}

/// Counts the table scans of a plan (looking into views) and tells whether any reads
/// a source the executors cannot read.
fn scans(plan: &LogicalPlan) -> (usize, bool) {
    let mut count = 0;
    let mut local_only = false;
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let Ok(provider) = source_as_provider(&scan.source) else {
                local_only = true;
                return Ok(TreeNodeRecursion::Stop);
            };
            let any = provider.as_any();
            if let Some(view) = any.downcast_ref::<ViewTable>() {
                let (n, local) = scans(view.logical_plan());
                count += n;
                local_only |= local;
            } else if any.is::<ListingTable>()
                || any.is::<MemTable>()
                || any.is::<sparkling_connectors::iceberg::IcebergTable>()
                || any.is::<sparkling_connectors::range::RangeTable>()
                || any.is::<sparkling_connectors::kafka::KafkaTable>()
                || any.is::<sparkling_connectors::events::EventsTable>()
            {
                count += 1;
            } else {
                // Anything else stays in the gateway: metadata tables and other
                // providers the executors cannot rebuild.
                count += 1;
                local_only = true;
            }
        }
        Ok(if local_only {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    (count, local_only)
}

/// What the engine asks of whoever runs the plans it cannot: Spark's lakehouse
/// statements ([`crate::command::LakehouseCommand`]) and writes into Iceberg tables, which
/// `sparkling-lakehouse` implements (catalog operations, streaming queries,
/// distributed inserts with one commit).
#[async_trait]
pub trait CommandRunner: Send + Sync {
    /// Runs `plan` if it is a command or write this runner owns, or gives it back
    /// (possibly replanned, e.g. `DROP TABLE` of a view becomes DataFusion's own).
    async fn run(&self, run: &Run<'_>, plan: LogicalPlan) -> Result<Executed, EngineError>;
}

/// What a [`CommandRunner`] gets with a plan: the session and the operation it runs
/// for, and the signal that interrupts it.
pub struct Run<'a> {
    /// The engine's cluster.
    pub cluster: &'a Cluster,
    /// The session the plan runs in.
    pub session: &'a Session,
    /// The operation (the job it submits is recorded there).
    pub operation: &'a Arc<Operation>,
    /// Turns true when the operation is interrupted.
    pub interrupted: watch::Receiver<bool>,
}

/// What a [`CommandRunner`] did with a plan.
pub enum Executed {
    /// It ran the plan; its result.
    Ran(SendableRecordBatchStream),
    /// Not its plan: the engine runs this one as any other.
    NotMine(Box<LogicalPlan>),
}

/// Runs `plan` for `session`, lakehouse commands and writes through `commands`;
/// `interrupted` turning true stops it.
pub async fn execute_plan(
    cluster: &Cluster,
    commands: &dyn CommandRunner,
    session: &Session,
    plan: LogicalPlan,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream, EngineError> {
    let run = Run {
        cluster,
        session,
        operation,
        interrupted: interrupted.clone(),
    };
    let plan = match commands.run(&run, plan).await? {
        Executed::Ran(stream) => return Ok(stop_on_interrupt(stream, interrupted)),
        Executed::NotMine(plan) => *plan,
    };
    let schema = Arc::clone(plan.schema().inner());
    let stream = match placement(&plan) {
        Placement::Gateway => {
            session
                .ctx
                .execute_logical_plan(plan)
                .await?
                .execute_stream()
                .await?
        }
        Placement::Cluster => {
            let name = format!("session {}", session.id);
            run_job(
                cluster,
                &name,
                Arc::clone(&session.ctx),
                &plan,
                Arc::clone(&schema),
                interrupted.clone(),
                |job_id| *operation.job_id.lock() = Some(job_id.to_string()),
            )
            .await?
        }
    };
    Ok(stop_on_interrupt(stream, interrupted))
}

/// Ends a result stream with an error once the operation is interrupted (or its
/// session released).
fn stop_on_interrupt(
    stream: SendableRecordBatchStream,
    interrupted: watch::Receiver<bool>,
) -> SendableRecordBatchStream {
    let schema = stream.schema();
    let stream = futures::stream::unfold(
        (stream, interrupted, false),
        |(mut stream, mut interrupted, done)| async move {
            if done {
                return None;
            }
            let stop = tokio::select! {
                biased;
                _ = interrupted.wait_for(|v| *v) => None,
                item = stream.next() => Some(item),
            };
            match stop {
                None => Some((
                    Err(DataFusionError::External(Box::new(Interrupted))),
                    (stream, interrupted, true),
                )),
                Some(item) => item.map(|item| (item, (stream, interrupted, false))),
            }
        },
    );
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}
