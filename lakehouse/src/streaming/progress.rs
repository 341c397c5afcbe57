//! What a streaming query reports about itself, in the shapes of Spark's
//! `StreamingQueryStatus` and `StreamingQueryProgress` (the JSON Spark Connect clients
//! parse), plus the dead-letter count Sparkling adds.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// How many progress reports a query keeps (Spark's
/// `spark.sql.streaming.numRecentProgressUpdates` default).
pub const RECENT_PROGRESS: usize = 100;

/// Spark's `StreamingQueryStatus`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueryStatus {
    /// What the query is doing.
    pub message: String,
    /// Whether the last trigger found data.
    pub is_data_available: bool,
    /// Whether a batch is being planned or run.
    pub is_trigger_active: bool,
}

impl QueryStatus {
    /// A status with `message`, idle.
    pub fn idle(message: &str) -> Self {
        Self {
            message: message.to_string(),
            is_data_available: false,
            is_trigger_active: false,
        }
    }
}

/// Durations of a batch's phases, milliseconds (Spark's `durationMs`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    /// Asking the source where it stands.
    pub latest_offset: u64,
    /// Planning the batch.
    pub query_planning: u64,
    /// Running the job and committing.
    pub add_batch: u64,
    /// The whole trigger.
    pub trigger_execution: u64,
}

/// One source of a batch (Spark's `SourceProgress`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceProgress {
    /// What the source is.
    pub description: String,
    /// Where the batch started (JSON text).
    pub start_offset: Option<String>,
    /// Where it ended.
    pub end_offset: String,
    /// Where the source stood.
    pub latest_offset: String,
    /// Records the batch read.
    pub num_input_rows: u64,
    /// Records per second arriving since the last batch.
    pub input_rows_per_second: f64,
    /// Records per second the batch processed.
    pub processed_rows_per_second: f64,
    /// Records left behind, per partition (`topic-partition`), and their sum as
    /// `totalLag` (Spark's Kafka source metrics).
    pub metrics: BTreeMap<String, String>,
}

/// The sink of a batch.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SinkProgress {
    /// The table.
    pub description: String,
    /// Rows appended.
    pub num_output_rows: u64,
}

/// One finished batch (Spark's `StreamingQueryProgress`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QueryProgress {
    /// Query id.
    pub id: String,
    /// Id of this run of the query.
    pub run_id: String,
    /// Query name.
    pub name: String,
    /// When the batch started (ISO 8601).
    pub timestamp: String,
    /// Batch id.
    pub batch_id: i64,
    /// Records read.
    pub num_input_rows: u64,
    /// See [`SourceProgress::input_rows_per_second`].
    pub input_rows_per_second: f64,
    /// See [`SourceProgress::processed_rows_per_second`].
    pub processed_rows_per_second: f64,
    /// Rows routed to the dead-letter table.
    pub num_dead_letter_rows: u64,
    /// Phase durations.
    pub duration_ms: Durations,
    /// The source.
    pub sources: Vec<SourceProgress>,
    /// The sink.
    pub sink: SinkProgress,
}

impl QueryProgress {
    /// Spark's JSON form.
    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }
}

/// The last [`RECENT_PROGRESS`] reports.
#[derive(Debug, Default)]
pub struct RecentProgress(VecDeque<QueryProgress>);

impl RecentProgress {
    /// Adds a report, dropping the oldest beyond the limit.
    pub fn push(&mut self, progress: QueryProgress) {
        if self.0.len() == RECENT_PROGRESS {
            self.0.pop_front();
        }
        self.0.push_back(progress);
    }

    /// Oldest first.
    pub fn all(&self) -> Vec<QueryProgress> {
        self.0.iter().cloned().collect()
    }

    /// The newest.
    pub fn last(&self) -> Option<&QueryProgress> {
        self.0.back()
    }
}

/// Records per second, 0 for an empty interval.
pub fn rate(rows: u64, millis: u64) -> f64 {
    if millis == 0 {
        0.0
    } else {
        rows as f64 * 1000.0 / millis as f64
    }
}
