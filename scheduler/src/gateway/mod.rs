//! The gateway: Sparkling's Spark Connect endpoint.
//!
//! [`service`] translates the `spark.connect.SparkConnectService` protocol into calls
//! on the session manager ([`crate::session`]), the operation runner (`operation`,
//! which builds plans with [`plan`] and [`bind`], runs them with [`execute`] and answers
//! through `responder`), the streaming commands (`streams`) and the analyzer
//! (`analyze`); [`arrow`] handles Arrow on the wire.

mod analyze;
pub mod arrow;
pub mod bind;
pub mod execute;
mod operation;
pub mod plan;
mod responder;
pub mod service;
mod streams;

pub use service::Gateway;
