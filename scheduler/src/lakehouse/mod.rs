//! Iceberg tables from SQL: Spark's DDL for namespaces and tables ([`ddl`] parses it,
//! [`commands`] runs it against the REST catalog), writes ([`insert`]), which run as
//! distributed jobs and commit one snapshot each, and Spark's time travel and
//! metadata table syntax ([`rewrite`]).

pub mod commands;
pub mod insert;

pub use insert::{Append, JOB_ID_PROPERTY, WRITE_ID_PROPERTY, append, insert, insert_target};
