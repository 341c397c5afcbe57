//! The plan codecs: one logical and one physical extension codec that know every node
//! Sparkling puts into a plan, delegating everything else to Ballista's codecs (which
//! in turn know Ballista's shuffle nodes and DataFusion's file formats).
//!
//! Every payload starts with a tag byte naming its owner, so new node kinds plug in
//! beside the old ones without changing the wire format of existing ones.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference, plan_err};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;

use crate::events::EventsExec;
use crate::iceberg::{IcebergWriteExec, WriteSpec};
use crate::kafka::KafkaScanExec;
use crate::range::RangeExec;
use crate::remote_table::RemoteTable;

/// Payload tags.
const TAG_BALLISTA: u8 = 0;
const TAG_REMOTE_TABLE: u8 = 1;
const TAG_ICEBERG_WRITE: u8 = 2;
const TAG_RANGE: u8 = 3;
const TAG_KAFKA_SCAN: u8 = 4;
const TAG_EVENTS: u8 = 5;

/// Splits a tagged payload.
fn untag(buf: &[u8]) -> Result<(u8, &[u8])> {
    match buf.split_first() {
        Some((tag, rest)) => Ok((*tag, rest)),
        None => plan_err!("empty extension payload in plan"),
    }
}

/// Sparkling's logical extension codec (client plans and gateway).
#[derive(Debug, Default)]
pub struct SparklingLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for SparklingLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        match untag(buf)? {
            (TAG_BALLISTA, rest) => self.inner.try_decode(rest, inputs, ctx),
            (tag, _) => plan_err!("unknown logical extension node (tag {tag})"),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        buf.push(TAG_BALLISTA);
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match untag(buf)? {
            (TAG_REMOTE_TABLE, rest) => Ok(Arc::new(RemoteTable::decode(rest, schema)?)),
            (TAG_BALLISTA, rest) => self
                .inner
                .try_decode_table_provider(rest, table_ref, schema, ctx),
            (tag, _) => plan_err!("unknown table provider in plan (tag {tag}) for {table_ref}"),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(remote) = node.as_any().downcast_ref::<RemoteTable>() {
            buf.push(TAG_REMOTE_TABLE);
            return remote.encode(buf);
        }
        buf.push(TAG_BALLISTA);
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote_table::RemoteSource;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::provider_as_source;
    use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};
    use datafusion::prelude::SessionContext;
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    };

    #[test]
    fn client_plan_round_trips_with_its_table_reference() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let table = RemoteTable::new(RemoteSource::Named("t".into()), schema);
        let plan = LogicalPlanBuilder::scan("t", provider_as_source(Arc::new(table)), None)
            .unwrap()
            .filter(col("id").gt(lit(3i64)))
            .unwrap()
            .build()
            .unwrap();
        let codec = SparklingLogicalCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec).unwrap();
        let ctx = SessionContext::new();
        let back =
            logical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec).unwrap();
        assert_eq!(format!("{plan}"), format!("{back}"));
    }
}
