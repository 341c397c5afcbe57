//! Process-wide counters that `/metrics` exposes: distributed jobs run on the
//! executors (and their re-runs after a lost executor), the task attempts executors
//! reported, and Iceberg commits by kind with the conflicts they met.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Jobs submitted to the executors.
pub static JOBS_SUBMITTED: Counter = Counter::new();
/// Jobs whose results came back.
pub static JOBS_SUCCEEDED: Counter = Counter::new();
/// Jobs that failed or were cancelled.
pub static JOBS_FAILED: Counter = Counter::new();
/// Job attempts run again because an executor was lost.
pub static JOB_RETRIES: Counter = Counter::new();
/// Append snapshots committed.
pub static APPEND_COMMITS: Counter = Counter::new();
/// Overwrite snapshots committed (materialized view refreshes, INSERT OVERWRITE).
pub static OVERWRITE_COMMITS: Counter = Counter::new();
/// Commit attempts that lost to another writer and were retried.
pub static COMMIT_CONFLICTS: Counter = Counter::new();
/// Task attempts executors reported as succeeded.
pub static TASKS_SUCCEEDED: Counter = Counter::new();
/// Task attempts executors reported as failed.
pub static TASKS_FAILED: Counter = Counter::new();
/// Task attempts cancelled (their stage was rolled back or their job cancelled).
pub static TASKS_KILLED: Counter = Counter::new();
