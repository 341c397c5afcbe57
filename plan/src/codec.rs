//! Sparkling's logical extension codec: it knows the client-side table references
//! ([`RemoteTable`]) that travel inside client plans and delegates everything else to
//! Ballista's logical codec (which knows DataFusion's file formats).
//!
//! Every payload starts with a tag byte naming its owner, so new node kinds plug in
//! beside the old ones without changing the wire format of existing ones. The tags are
//! shared with the physical codec in `sparkling-connectors` ([`untag`], [`TAG_BALLISTA`]).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference, plan_err};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use crate::remote_table::RemoteTable;

/// Payload tag of anything Ballista's codecs encode.
pub const TAG_BALLISTA: u8 = 0;
/// Payload tag of a [`RemoteTable`].
pub const TAG_REMOTE_TABLE: u8 = 1;

/// Splits a tagged payload.
pub fn untag(buf: &[u8]) -> Result<(u8, &[u8])> {
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
