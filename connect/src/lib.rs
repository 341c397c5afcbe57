//! The Spark Connect service: `spark.connect.SparkConnectService` over the engine.
//!
//! [`service`] translates the protocol into calls on the engine's sessions and runs
//! operations (`operation`) whose relations [`relation`] turns into plans; it answers
//! through `responder`, with Arrow on the wire from [`arrow`]. `streams` serves
//! PySpark's streaming commands on the lakehouse's streaming queries, `write` the
//! DataFrame writers, `analyze` the analyzer. Errors ([`ConnectError`]) become gRPC statuses in [`status`] and nowhere else.

mod analyze;
pub mod arrow;
pub mod error;
mod operation;
pub mod relation;
mod responder;
pub mod service;
pub mod status;
mod streams;
mod write;

pub use error::{ConnectError, Result};
pub use service::Gateway;
