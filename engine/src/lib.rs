//! The engine: what runs a statement, whatever front end it came from.
//!
//! - [`cluster`] embeds the Ballista scheduler that executors register with;
//!   [`job`] runs a plan there as a distributed job, [`job_progress`] and
//!   [`task_status`] follow its stages and tasks;
//! - [`session`] holds client sessions (configuration, temporary views) over the
//!   shared catalogs, with the physical planning rules of [`join_planning`];
//! - [`statement`] turns SQL into plans (the one SQL entry point), [`bind`] binds the
//!   tables of client-built plans, [`command`] carries Spark's lakehouse statements
//!   as plan nodes, and [`execute`] runs a plan in the scheduler or on the cluster;
//! - [`Engine`] puts them together: `run_statement` is how submitted scripts,
//!   pipelines and the command line run SQL, and the Spark Connect service runs
//!   plans through [`Engine::execute`].
//!
//! Lakehouse commands and writes reach their runner through [`CommandRunner`], which
//! `sparkling-lakehouse` implements; this crate knows nothing of Iceberg commits or
//! streaming queries.
//!
//! Shared pieces: [`error`] (the one error of this crate), [`clock`], [`counters`],
//! [`state_store`] (JSON records that survive restarts) and [`state_enum!`].

pub mod bind;
pub mod clock;
pub mod cluster;
pub mod command;
pub mod counters;
mod engine;
pub mod error;
pub mod execute;
pub mod job;
pub mod job_progress;
pub mod join_planning;
pub mod session;
pub mod state_store;
pub mod statement;
pub mod states;
pub mod task_status;

pub use cluster::Cluster;
pub use engine::Engine;
pub use error::{EngineError, ErrorKind, Result};
pub use execute::{CommandRunner, Executed};

/// A UUID derived from `text`: the same text always gives the same id (the ids of
/// streaming queries and of lineage runs).
pub fn stable_uuid(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}
