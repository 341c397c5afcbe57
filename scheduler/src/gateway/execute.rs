//! Runs a logical plan where it belongs and returns its result stream.
//!
//! Plans that read data (files, tables, inline rows, ranges) run as distributed jobs
//! on the executors. Plans that read nothing (`SELECT 1`), commands, and plans over
//! the gateway's own metadata (`information_schema`) run in the gateway, the way
//! Spark's driver runs local relations itself.

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

use super::plan::is_command;
use crate::cluster::Cluster;
use crate::error::GatewayError;
use crate::job::run_job;
use crate::session::{Operation, Session};

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

/// Runs `plan` for `session`; `interrupted` turning true stops it.
pub async fn execute_plan(
    cluster: &Cluster,
    streams: &crate::streaming::StreamingManager,
    session: &Session,
    plan: LogicalPlan,
    operation: &Arc<Operation>,
    interrupted: watch::Receiver<bool>,
) -> Result<SendableRecordBatchStream, GatewayError> {
    let mut plan = plan;
    if let Some(command) = crate::lakehouse::commands::LakehouseCommand::of(&plan) {
        if crate::streaming::sql::is_streaming(&command.statement) {
            let stream = crate::streaming::sql::run(
                streams,
                session,
                &command.statement,
                interrupted.clone(),
            )
            .await?;
            return Ok(stop_on_interrupt(stream, interrupted));
        }
        let ran = crate::lakehouse::commands::run(
            command,
            cluster,
            session,
            operation,
            interrupted.clone(),
        )
        .await?;
        match ran {
            Some(stream) => return Ok(stop_on_interrupt(stream, interrupted)),
            // Not about an Iceberg table: DataFusion's own statement handles it.
            None => {
                let sql = command.fallback_sql();
                plan = session.ctx.state().create_logical_plan(&sql).await?;
            }
        }
    }
    if let Some(target) = crate::lakehouse::insert_target(&plan) {
        let catalog = session.iceberg.as_ref().ok_or_else(|| {
            GatewayError::Internal("an Iceberg table without an Iceberg catalog".into())
        })?;
        let stream = crate::lakehouse::insert(
            cluster,
            session,
            catalog,
            plan,
            target,
            operation,
            interrupted.clone(),
        )
        .await?;
        return Ok(stop_on_interrupt(stream, interrupted));
    }
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

/// Message of the error that ends an interrupted result stream.
pub const INTERRUPTED: &str = "operation interrupted";

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
                    Err(DataFusionError::Execution(INTERRUPTED.to_string())),
                    (stream, interrupted, true),
                )),
                Some(item) => item.map(|item| (item, (stream, interrupted, false))),
            }
        },
    );
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}
