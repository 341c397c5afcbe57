//! Sparkling's SQL front end as text: what happens to a statement before DataFusion
//! plans it, with no engine, runtime or cluster behind it.
//!
//! - [`script`] splits a script into statements;
//! - [`rewrite`] runs the rewrite chain ([`function_names`], [`named_args`], [`stream_syntax`],
//!   [`table_syntax`]) on one statement, on the tokens of [`tokens`];
//! - [`ddl`] parses Spark's DDL for Iceberg tables and pipeline datasets, with their
//!   [`partition`] terms;
//! - [`pipeline_spec`] reads a pipeline's spec and SQL files;
//! - [`names`] resolves table and namespace names and quotes text back into SQL;
//! - [`parameters`] binds Spark's `:name` and `?` parameter markers.
//!
//! Every function returns [`SqlError`] for text that is wrong.

pub mod ddl;
pub mod error;
pub mod function_names;
pub mod named_args;
pub mod names;
pub mod parameters;
pub mod partition;
pub mod pipeline_spec;
pub mod rewrite;
pub mod script;
pub mod spark_operators;
pub mod stream_syntax;
pub mod table_syntax;
pub mod tokens;

pub use error::{Result, SqlError};
pub use partition::PartitionTerm;
