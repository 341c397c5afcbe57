//! The Sparkling Rust SDK: connect to a Sparkling (or any Spark Connect) gateway, run
//! SQL, and build DataFrame plans locally as DataFusion logical plans that execute on
//! the cluster.
//!
//! A fuller, runnable tour is `client/examples/dataframe.rs`
//! (`cargo run -p sparkling-client --example dataframe` against a running cluster).
//!
//! ```no_run
//! # async fn demo() -> sparkling_client::Result<()> {
//! use sparkling_client::SparkSession;
//! use datafusion::prelude::{col, lit};
//!
//! let spark = SparkSession::connect("sc://127.0.0.1:15002").await?;
//! let df = spark.range(0, 100, 1).await?.filter(col("id").gt(lit(90i64)))?;
//! df.show().await?;
//! # Ok(()) }
//! ```

pub mod dataframe;
pub mod error;
pub mod remote;
pub mod session;
pub mod streaming;
pub mod writer;

pub use dataframe::DataFrame;
pub use error::{ClientError, Result};
pub use remote::RemoteUrl;
pub use session::{DataFrameReader, SparkSession};
pub use streaming::{StreamingDataFrame, StreamingQuery};
pub use writer::DataFrameWriterV2;
