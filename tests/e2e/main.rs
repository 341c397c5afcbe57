//! End-to-end tests: a scheduler and two executors as separate OS processes on free
//! loopback ports, driven through the Spark Connect gateway with the Rust SDK and the
//! `sparkling` command line.

mod cluster;
mod errors;
mod fault;
mod sdk;
mod tpch;
