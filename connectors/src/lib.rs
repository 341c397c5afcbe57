//! Pieces every Sparkling process must share so that plans mean the same thing
//! everywhere: the function library ([`functions`]), the logical and physical plan
//! codecs ([`codec`]) and the client-side table references that travel inside
//! client plans until the gateway binds them ([`remote_table`]).

pub mod codec;
pub mod functions;
pub mod remote_table;

pub use codec::{SparklingLogicalCodec, SparklingPhysicalCodec};
pub use remote_table::{RemoteSource, RemoteTable};
