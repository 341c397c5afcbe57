//! End-to-end tests: a scheduler and two executors as separate OS processes on free
//! loopback ports, driven through the Spark Connect gateway with the Rust SDK and the
//! `sparkling` command line; and the Iceberg REST catalog as its own process, driven
//! by pyiceberg; the same over a real S3-compatible object store; and Kafka topics
//! on a real Kafka-protocol broker, and streaming queries from them into tables; jobs
//! submitted over REST, and pipelines of streaming tables and materialized views;
//! the web UI in a headless Chromium.

// A test that cannot go on fails on the spot, with the value it did not get; the
// reference answers come from plain DataFusion, planned as DataFusion plans SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod catalog;
mod cluster;
mod errors;
mod fault;
mod kafka;
mod lakehouse;
mod object_store;
mod pipelines;
mod sdk;
mod streaming;
mod submissions;
mod tpch;
mod ui;
