//! Iceberg tables in the engine: a REST catalog connection whose namespaces are
//! DataFusion schemas ([`catalog`]), tables whose scans are planned from their
//! manifests and spread over the executors ([`table`]) with statistics from the same
//! manifests ([`statistics`]), and the filters that prune
//! those scans ([`predicate`]), metadata tables and time travel ([`metadata`]), table definitions from SQL terms ([`schema`]), and
//! the executors' side of writes ([`write`]), and snapshots the client cannot read or
//! make by itself: appended files, overwrites ([`snapshots`]).

pub mod catalog;
pub mod metadata;
pub mod predicate;
pub mod schema;
pub mod snapshots;
pub mod statistics;
pub mod table;
pub mod write;

pub use catalog::{IcebergCatalog, IcebergSchema};
pub use table::IcebergTable;
pub use write::{IcebergWriteExec, WriteSpec};
