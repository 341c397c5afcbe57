//! Pieces every Sparkling process must share so that plans mean the same thing
//! everywhere: the function library ([`functions`], [`json`]), the logical and physical plan
//! codecs ([`codec`]), the client-side table references that travel inside client
//! plans until the gateway binds them ([`remote_table`]), and Iceberg tables
//! ([`iceberg`]), Kafka topics ([`kafka`]), generated events ([`events`]), series (`range`) split over the executors
//! ([`range`]), the object stores plans read and write through ([`object_stores`]), and
//! the unbounded sources of streaming queries ([`stream_source`]).

pub mod codec;
pub mod events;
pub mod functions;
pub mod iceberg;
pub mod json;
pub mod kafka;
pub mod object_stores;
pub mod option_args;
pub mod range;
pub mod remote_table;
pub mod stream_source;

pub use codec::{SparklingLogicalCodec, SparklingPhysicalCodec};
pub use remote_table::{RemoteSource, RemoteTable};
