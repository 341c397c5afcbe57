//! Pieces every Sparkling process must share so that plans mean the same thing
//! everywhere: the function library ([`functions`], [`json`], the higher-order
//! functions' evaluation in [`lambda`]), the physical plan
//! codec ([`codec`]; the logical one is in `sparkling-plan`), and Iceberg tables
//! ([`iceberg`]), Kafka topics ([`kafka`]), generated events ([`events`]), series (`range`) split over the executors
//! ([`range`]), the object stores plans read and write through ([`object_stores`]), and
//! the unbounded sources of streaming queries ([`stream_source`]).

pub mod codec;
pub mod events;
pub mod functions;
pub mod iceberg;
pub mod json;
pub mod kafka;
pub mod lambda;
pub mod object_stores;
pub mod option_args;
pub mod range;
pub mod stream_source;

pub use codec::SparklingPhysicalCodec;
