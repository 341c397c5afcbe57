//! What a client plan carries to the gateway: DataFusion logical plans whose leaves
//! are [`RemoteTable`]s (a catalog table, files, a SQL query, a range or inline rows,
//! bound to real tables by the gateway), encoded with [`SparklingLogicalCodec`].
//!
//! Both the Rust SDK (`sparkling-client`) and the engine depend on this crate, so the
//! SDK builds without the connectors (Kafka, Iceberg) or the Ballista scheduler.

pub mod codec;
pub mod remote_table;

pub use codec::SparklingLogicalCodec;
pub use remote_table::{RemoteSource, RemoteTable};
