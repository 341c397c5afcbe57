//! Sparkling's gRPC surface.
//!
//! - [`spark`]: the Spark Connect messages (from `apache-spark-connect-proto`) plus the
//!   generated server for `spark.connect.SparkConnectService`
//!   ([`spark::spark_connect_service_server`]) and the client
//!   ([`spark::spark_connect_service_client`]).
//! - [`extension`]: the type URLs of Sparkling's own messages carried in
//!   `Relation.extension` / `Command.extension`.

/// Spark Connect messages, client and server.
pub mod spark {
    pub use spark_connect_proto::*;
    tonic::include_proto!("spark.connect.SparkConnectService");
}

pub mod extension;

/// Spark Connect's default port (`sc://host` means `sc://host:15002`).
pub const DEFAULT_CONNECT_PORT: u16 = 15002;

/// The Spark version the gateway reports (the Spark Connect protocol it speaks).
pub const SPARK_VERSION: &str = "4.2.0";
