//! What a streaming query is (its definition, trigger and identity) and where the
//! scheduler keeps the queries it runs, so that it resumes them after a restart.
//!
//! A query's id is derived from its target table and name: defining the same query
//! again (`CREATE OR REFRESH STREAMING TABLE`, or the same `INSERT ... STREAM(...)`
//! with the same name) continues it from the offsets its snapshots recorded.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LakehouseError, Result};

pub use sparkling_engine::session::{DEAD_LETTER_CONF, QUERY_NAME_CONF, TRIGGER_CONF};

/// When a streaming query runs its micro-batches (Spark's `Trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Trigger {
    /// A batch every interval (0: as soon as the last one finished and data is there).
    #[serde(rename_all = "camelCase")]
    ProcessingTime {
        /// Milliseconds between batch starts.
        interval_ms: u64,
    },
    /// Everything available when the query starts, in as many batches as the
    /// per-trigger limits allow; then the query stops.
    AvailableNow,
    /// One batch with everything available; then the query stops.
    Once,
}

impl Default for Trigger {
    fn default() -> Self {
        Self::ProcessingTime { interval_ms: 0 }
    }
}

impl Trigger {
    /// Parses `availableNow`, `once`, `processingTime=10 seconds` or an interval
    /// (`10 seconds`, `500 ms`, `1 minute`, `0`).
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        match lower.replace(['_', '-'], "").as_str() {
            "availablenow" => return Ok(Self::AvailableNow),
            "once" => return Ok(Self::Once),
            _ => {}
        }
        let interval = lower
            .strip_prefix("processingtime")
            .map(|rest| {
                rest.trim_start_matches([' ', '=', ':', '('])
                    .trim_end_matches(')')
            })
            .unwrap_or(&lower)
            .trim()
            .trim_matches(['\'', '"']);
        parse_interval(interval)
            .map(|d| Self::ProcessingTime {
                interval_ms: d.as_millis() as u64,
            })
            .ok_or_else(|| {
                LakehouseError::InvalidInput(format!(
                    "invalid trigger '{text}': use availableNow, once, or processingTime=<interval> \
                     such as '10 seconds'"
                ))
            })
    }

    /// Whether the query stops once it has read what was there.
    pub fn is_bounded(self) -> bool {
        !matches!(self, Self::ProcessingTime { .. })
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ProcessingTime { interval_ms } => write!(f, "ProcessingTime({interval_ms} ms)"),
            Self::AvailableNow => write!(f, "AvailableNow"),
            Self::Once => write!(f, "Once"),
        }
    }
}

/// `10 seconds`, `500ms`, `1 minute`, `2h`, `0`.
fn parse_interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    let unit = unit.trim();
    let unit_ms = match unit {
        "" if number == 0.0 => 1.0,
        "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => 1.0,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        _ => return None,
    };
    let ms = number * unit_ms;
    (0.0..=86_400_000.0)
        .contains(&ms)
        .then(|| Duration::from_millis(ms as u64))
}

/// A table in the Iceberg catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableName {
    /// Namespace.
    pub namespace: String,
    /// Table.
    pub name: String,
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// A streaming query: read a `STREAM(...)` source batch by batch, append each batch
/// to a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryDefinition {
    /// Stable id (see [`query_id`]).
    pub id: String,
    /// Name (default: the target table's name).
    pub name: String,
    /// Where batches are appended.
    pub target: TableName,
    /// The query, as SQL reading one `STREAM(...)` source.
    pub query: String,
    /// When batches run.
    pub trigger: Trigger,
    /// Where rows with a `_corrupt_record` go, if anywhere.
    pub dead_letter: Option<TableName>,
    /// When the query was first defined (epoch ms); generated events without an
    /// explicit start begin then.
    pub created_ms: i64,
    /// Expectations each batch's rows are checked against (a pipeline's streaming
    /// table).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<crate::expectations::Expectation>,
}

/// The id of the query named `name` writing to `target`: the same pair always gives
/// the same id, so a query defined again resumes where it left off.
pub fn query_id(target: &TableName, name: &str) -> String {
    sparkling_engine::stable_uuid(&format!("sparkling-stream\n{target}\n{name}"))
}

sparkling_engine::state_enum! {
    /// Where a streaming query stands, as listings (`SHOW STREAMS`, the JSON API, the
    /// UI) name it.
    pub enum StreamingQueryState {
        /// Running (or to be resumed when the scheduler starts).
        Active => "ACTIVE",
        /// Stopped on request. State files of early versions wrote `stopped`.
        #[serde(alias = "stopped")]
        Stopped => "STOPPED",
        /// A bounded trigger read everything, or the source ended.
        #[serde(alias = "finished")]
        Finished => "FINISHED",
        /// It cannot go on.
        #[serde(alias = "failed")]
        Failed => "FAILED",
    }
}

/// Whether the scheduler should keep a query running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Desired {
    /// Run it (and resume it after a restart).
    Active,
    /// It was stopped, finished or failed; leave it.
    Inactive {
        /// How it ended: stopped, finished or failed (`End::state`).
        ended: StreamingQueryState,
        /// Why it failed.
        error: Option<String>,
    },
}

/// A query as the scheduler stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredQuery {
    /// The definition.
    pub definition: QueryDefinition,
    /// What should happen to it.
    pub desired: Desired,
}

/// The scheduler's directory of streaming queries (`<state-dir>/streams`).
pub type QueryStore = sparkling_engine::state_store::JsonStore<StoredQuery>;

/// The store of streaming queries under `state_dir`.
pub fn query_store(state_dir: Option<&Path>) -> Result<QueryStore> {
    Ok(QueryStore::new(state_dir, "streams", "streaming query")?)
}

/// Every stored query, oldest first.
pub fn load_queries(store: &QueryStore) -> Vec<StoredQuery> {
    let mut all = store.load_all();
    all.sort_by_key(|q| q.definition.created_ms);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_parse_in_spark_spellings() {
        assert_eq!(
            Trigger::parse("availableNow").unwrap(),
            Trigger::AvailableNow
        );
        assert_eq!(
            Trigger::parse("AVAILABLE_NOW").unwrap(),
            Trigger::AvailableNow
        );
        assert_eq!(Trigger::parse("once").unwrap(), Trigger::Once);
        let every = |ms| Trigger::ProcessingTime { interval_ms: ms };
        assert_eq!(
            Trigger::parse("processingTime=10 seconds").unwrap(),
            every(10_000)
        );
        assert_eq!(
            Trigger::parse("processingTime('1 minute')").unwrap(),
            every(60_000)
        );
        assert_eq!(Trigger::parse("500 ms").unwrap(), every(500));
        assert_eq!(Trigger::parse("2s").unwrap(), every(2_000));
        assert_eq!(Trigger::parse("5m").unwrap(), every(300_000));
        assert_eq!(Trigger::parse("1 day").unwrap(), every(86_400_000));
        assert_eq!(Trigger::parse("0").unwrap(), every(0));
        for bad in ["sometimes", "processingTime=-1 s", "10 parsecs", ""] {
            assert!(Trigger::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_query_is_identified_by_its_table_and_name() {
        let t = TableName {
            namespace: "bronze".into(),
            name: "listens".into(),
        };
        assert_eq!(query_id(&t, "listens"), query_id(&t, "listens"));
        assert_ne!(query_id(&t, "listens"), query_id(&t, "other"));
        assert!(uuid::Uuid::parse_str(&query_id(&t, "x")).is_ok());
    }

    #[test]
    fn stored_queries_survive_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = query_store(Some(dir.path())).unwrap();
        let target = TableName {
            namespace: "default".into(),
            name: "t".into(),
        };
        let query = StoredQuery {
            definition: QueryDefinition {
                id: query_id(&target, "t"),
                name: "t".into(),
                target,
                query: "SELECT 1".into(),
                trigger: Trigger::ProcessingTime { interval_ms: 1000 },
                dead_letter: None,
                created_ms: 5,
                expectations: Vec::new(),
            },
            desired: Desired::Active,
        };
        store.save(&query.definition.id, &query).unwrap();
        std::fs::write(dir.path().join("streams/broken.json"), "{").unwrap();
        assert_eq!(load_queries(&store), vec![query]);
    }
}
