//! The benchmark harness and what tests share with it: TPC-H data generation and the
//! 22 TPC-H queries ([`tpch`]), result normalization for cross-engine comparison, and
//! the report it writes ([`report`]).

pub mod report;
pub mod tpch;
