//! Spark's semantics on DataFusion.
//!
//! - [`plan`] turns Spark Connect relations (what PySpark's DataFrame API sends) into
//!   DataFusion logical plans, through a [`PlanContext`] that the caller implements
//!   for what needs a session (SQL text, tables, files, ranges);
//! - [`expr`] turns Spark Connect expressions into DataFusion expressions over an input
//!   schema, resolving column names as Spark does (ignoring case, `df["col"]` by plan
//!   id) and naming results as Spark names them ([`names`]);
//! - [`functions`] maps Spark's function names and operators onto the session's
//!   function registry; [`lambda`] translates higher-order functions (`transform`,
//!   `filter`, `aggregate`, ...) with their lambda functions, and [`casts`] holds
//!   SQL's cast functions (`int(x)`, `string(x)`), [`hash`] Spark's hashes and [`regex`] its regular-expression
//!   functions DataFusion lacks, [`sketch`] its HyperLogLog and theta sketches, [`kll`] its KLL
//!   quantile sketches;
//! - [`types`] converts between Spark's types (the protocol's, DDL strings, JSON
//!   schemas) and Arrow's;
//! - [`catalog`] answers `spark.catalog` calls from the session's catalog;
//! - [`stats`] plans `describe()`, `summary()` and the `df.stat` functions;
//! - [`show`] formats rows as Spark's `Dataset.show()` does;
//! - [`rules`] holds the analyzer rules every session installs so SQL text gets
//!   Spark's answers too (`7 / 2` is 3.5, division by zero is Spark's
//!   `DIVIDE_BY_ZERO` error, checked by [`divisor`]; `from_unixtime` with a Java
//!   pattern is [`datetime`]'s).
//!
//! Nothing here runs a query or knows the cluster: it is planning only, testable
//! without processes.

pub mod casts;
pub mod catalog;
pub mod context;
pub mod datetime;
pub mod divisor;
pub mod error;
pub mod expr;
pub mod functions;
pub mod hash;
pub mod kll;
pub mod lambda;
pub mod literal;
pub mod names;
pub mod plan;
pub mod regex;
pub mod rules;
pub mod show;
pub mod sketch;
pub mod stats;
pub mod types;

pub use context::PlanContext;
pub use error::{Result, SparkError};
pub use plan::{Observation, Planned, Planner};
