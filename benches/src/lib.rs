//! The benchmark harness and what tests share with it: TPC-H data generation and the
//! 22 TPC-H queries ([`tpch`]), result normalization and cross-engine checks, the peer
//! engines it compares with ([`peers`]) and the report it writes ([`report`], with
//! [`charts`]).

pub mod charts;
pub mod peers;
pub mod report;
pub mod tpch;
