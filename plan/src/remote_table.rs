//! Table references inside client-built plans.
//!
//! A client builds DataFrame plans locally as DataFusion logical plans, but it does not
//! own the data: a plan's leaves name a catalog table, files on the cluster's storage, a
//! SQL query, a range or a small client-side dataset. Each leaf is a [`RemoteTable`]:
//! the [`RemoteSource`] says what to read and the schema is the one the gateway reported
//! when the DataFrame was created. The gateway replaces every `RemoteTable` with the real
//! table provider of the session that runs the plan (see the scheduler's plan binder).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

/// What a [`RemoteTable`] reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RemoteSource {
    /// A table or view known to the session, e.g. `lineitem` or `spark_catalog.default.t`.
    Named(String),
    /// The result of a SQL query, planned by the gateway in the session.
    Sql(String),
    /// Files: `format` is `parquet`, `csv` or `json`; paths are local paths or object-store URLs.
    Files {
        /// File format.
        format: String,
        /// Paths or URLs (directories are read whole).
        paths: Vec<String>,
        /// Reader options (e.g. `header`, `delimiter` for CSV).
        options: BTreeMap<String, String>,
    },
    /// `id` values from `start` (inclusive) to `end` (exclusive) by `step`.
    Range {
        /// First value.
        start: i64,
        /// End, exclusive.
        end: i64,
        /// Increment, non-zero.
        step: i64,
    },
    /// Rows the client sent along, as an Arrow IPC stream.
    Local(#[serde(skip)] Vec<u8>),
}

impl std::fmt::Display for RemoteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteSource::Named(name) => write!(f, "table {name}"),
            RemoteSource::Sql(query) => write!(f, "query `{query}`"),
            RemoteSource::Files { format, paths, .. } => {
                write!(f, "{format} files {}", paths.join(", "))
            }
            RemoteSource::Range { start, end, step } => write!(f, "range({start}, {end}, {step})"),
            RemoteSource::Local(ipc) => write!(f, "local data ({} bytes)", ipc.len()),
        }
    }
}

/// A table whose data lives on the cluster, as seen from a client plan.
///
/// Scanning it directly is an error: it exists to be serialized by
/// [`crate::SparklingLogicalCodec`] and bound by the gateway.
#[derive(Debug, Clone)]
pub struct RemoteTable {
    source: RemoteSource,
    schema: SchemaRef,
}

impl RemoteTable {
    /// A reference to `source`, whose rows have `schema`.
    pub fn new(source: RemoteSource, schema: SchemaRef) -> Self {
        Self { source, schema }
    }

    /// What the table reads.
    pub fn source(&self) -> &RemoteSource {
        &self.source
    }

    /// Encodes the reference for the wire: a JSON header line, then (for local data) the
    /// Arrow IPC bytes.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        let header = serde_json::to_vec(&self.source)
            .map_err(|e| DataFusionError::Internal(format!("encoding a table reference: {e}")))?;
        buf.extend_from_slice(&(header.len() as u32).to_le_bytes());
        buf.extend_from_slice(&header);
        if let RemoteSource::Local(ipc) = &self.source {
            buf.extend_from_slice(ipc);
        }
        Ok(())
    }

    /// Decodes a reference written by [`RemoteTable::encode`].
    pub fn decode(buf: &[u8], schema: SchemaRef) -> Result<Self> {
        let bad =
            |why: &str| DataFusionError::Plan(format!("malformed table reference in plan: {why}"));
        let len = buf
            .get(..4)
            .ok_or_else(|| bad("truncated header"))?
            .try_into()
            .map(u32::from_le_bytes)
            .map_err(|_| bad("truncated header"))? as usize;
        let header = buf.get(4..4 + len).ok_or_else(|| bad("truncated header"))?;
        let mut source: RemoteSource =
            serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        if let RemoteSource::Local(ipc) = &mut source {
            *ipc = buf[4 + len..].to_vec();
        }
        if let RemoteSource::Range { step: 0, .. } = source {
            return Err(bad("range step must not be 0"));
        }
        Ok(Self { source, schema })
    }
}

#[async_trait]
impl TableProvider for RemoteTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan_err!(
            "{} must be bound by the gateway before execution",
            self.source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn round_trips_every_source() {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        for source in [
            RemoteSource::Named("t".into()),
            RemoteSource::Sql("select 1".into()),
            RemoteSource::Files {
                format: "csv".into(),
                paths: vec!["/data/x.csv".into()],
                options: [("header".to_string(), "true".to_string())].into(),
            },
            RemoteSource::Range {
                start: 0,
                end: 10,
                step: 2,
            },
            RemoteSource::Local(vec![1, 2, 3, 255]),
        ] {
            let mut buf = Vec::new();
            RemoteTable::new(source.clone(), schema.clone())
                .encode(&mut buf)
                .unwrap();
            let back = RemoteTable::decode(&buf, schema.clone()).unwrap();
            assert_eq!(back.source(), &source);
        }
    }

    #[test]
    fn rejects_garbage() {
        let schema = Arc::new(Schema::empty());
        for junk in [
            &b""[..],
            &b"\x05\x00\x00\x00{"[..],
            &b"\x02\x00\x00\x00{}"[..],
        ] {
            let err = RemoteTable::decode(junk, schema.clone())
                .unwrap_err()
                .to_string();
            assert!(err.contains("malformed table reference"), "{err}");
        }
    }
}
