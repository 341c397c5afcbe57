//! The physical plan codec: one extension codec that knows every node Sparkling puts
//! into a task plan, delegating everything else to Ballista's codec (which in turn
//! knows Ballista's shuffle nodes and DataFusion's file formats). The logical codec of
//! client plans is `sparkling_plan::SparklingLogicalCodec`.
//!
//! Every payload starts with a tag byte naming its owner, so new node kinds plug in
//! beside the old ones without changing the wire format of existing ones; the tags of
//! both codecs are numbered in one sequence (0 and 1 belong to `sparkling-plan`).

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use sparkling_plan::codec::{TAG_BALLISTA, untag};

use crate::events::EventsExec;
use crate::iceberg::{IcebergWriteExec, WriteSpec};
use crate::kafka::KafkaScanExec;
use crate::range::RangeExec;

/// Payload tags of Sparkling's physical nodes.
const TAG_ICEBERG_WRITE: u8 = 2;
const TAG_RANGE: u8 = 3;
const TAG_KAFKA_SCAN: u8 = 4;
const TAG_EVENTS: u8 = 5;

/// Sparkling's physical extension codec (scheduler to executors).
///
/// Extension nodes in task plans are Ballista's shuffle nodes, Sparkling's Iceberg
/// write node, its series node, its Kafka scan node and its event generator node.
#[derive(Debug, Default)]
pub struct SparklingPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for SparklingPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match untag(buf)? {
            (TAG_BALLISTA, rest) => self.inner.try_decode(rest, inputs, ctx),
            (TAG_ICEBERG_WRITE, rest) => {
                let spec: WriteSpec = from_json(rest, "an Iceberg write node")?;
                match inputs {
                    [input] => Ok(Arc::new(IcebergWriteExec::new(Arc::clone(input), spec))),
                    _ => plan_err!("an Iceberg write node takes one input"),
                }
            }
            (TAG_RANGE, rest) => Ok(Arc::new(RangeExec::from_spec(from_json(
                rest,
                "a range node",
            )?))),
            (TAG_KAFKA_SCAN, rest) => Ok(Arc::new(KafkaScanExec::new(from_json(
                rest,
                "a Kafka scan node",
            )?)?)),
            (TAG_EVENTS, rest) => Ok(Arc::new(EventsExec::new(from_json(
                rest,
                "an events node",
            )?)?)),
            (tag, _) => plan_err!("unknown physical extension node (tag {tag})"),
        }
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<()> {
        let any = node.as_any();
        if let Some(write) = any.downcast_ref::<IcebergWriteExec>() {
            return to_json(
                buf,
                TAG_ICEBERG_WRITE,
                write.spec(),
                "an Iceberg write node",
            );
        }
        if let Some(range) = any.downcast_ref::<RangeExec>() {
            return to_json(buf, TAG_RANGE, &range.spec(), "a range node");
        }
        if let Some(kafka) = any.downcast_ref::<KafkaScanExec>() {
            return to_json(buf, TAG_KAFKA_SCAN, kafka.spec(), "a Kafka scan node");
        }
        if let Some(events) = any.downcast_ref::<EventsExec>() {
            return to_json(buf, TAG_EVENTS, events.spec(), "an events node");
        }
        buf.push(TAG_BALLISTA);
        self.inner.try_encode(node, buf)
    }
}

/// A node spec stored as JSON after its tag.
fn to_json<T: serde::Serialize>(buf: &mut Vec<u8>, tag: u8, spec: &T, what: &str) -> Result<()> {
    buf.push(tag);
    serde_json::to_writer(buf, spec)
        .map_err(|e| DataFusionError::Internal(format!("encoding {what}: {e}")))
}

/// A node spec read back from its JSON.
fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| DataFusionError::Internal(format!("decoding {what}: {e}")))
}
