//! Streaming sources: what `STREAM(read_kafka(...))` and `STREAM(generate_events(...))`
//! stand for in a streaming query's plan, and how each micro-batch of them is planned.
//!
//! In SQL the gateway rewrites `STREAM(read_kafka(...))` into
//! `sparkling_stream_kafka(...)` (and the events source likewise); those table
//! functions give a [`StreamSourceTable`], which cannot be scanned by itself. A
//! streaming query replaces it, batch by batch, with a bounded table over the offsets
//! that batch covers ([`StreamSource::plan_batch`]). A source's position is a JSON
//! text: Spark's `{"topic":{"0":42}}` for Kafka, `{"events":N}` for the generator,
//! `{"snapshot":ID}` for an Iceberg table (`STREAM(ns.table)`: its appended rows).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use serde::Deserialize;

use crate::events::{EventSpec, EventsTable, event_schema, parse_event_options};
use crate::kafka::micro_batch::{SourceOffsets, plan_micro_batch, ranges_between};
use crate::kafka::offsets::{Watermarks, watermarks};
use crate::kafka::records::record_schema;
use crate::kafka::{KafkaOptions, KafkaTable};
use crate::option_args::option_pairs;

/// The most generated events one micro-batch takes when the source has a backlog
/// (a `start` in the past) and no `maxEventsPerTrigger`.
const DEFAULT_MAX_EVENTS_PER_TRIGGER: u64 = 1_000_000;

/// An unbounded source of a streaming query.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamSource {
    /// Kafka topics.
    Kafka(KafkaOptions),
    /// The event generator: event `i` is due at `spec.ts(i)`.
    Events {
        /// What to generate (its `start_ms` is the query's start when not given).
        spec: EventSpec,
        /// Whether `start` was given.
        start_given: bool,
        /// The stream ends after this many events.
        count: Option<u64>,
        /// At most this many events per micro-batch.
        max_per_trigger: Option<u64>,
    },
    /// The rows appended to an Iceberg table.
    Table {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its columns.
        schema: SchemaRef,
    },
}

/// Where a source stands now: what a batch may read up to.
#[derive(Debug, Clone)]
pub enum Latest {
    /// Each partition's log.
    Kafka(Vec<Watermarks>),
    /// Events due so far.
    Events(u64),
    /// The table as it stands.
    Table(Box<iceberg::table::Table>),
}

/// One micro-batch of a source.
pub struct SourceBatch {
    /// The rows of the batch, as a bounded table.
    pub table: Arc<dyn TableProvider>,
    /// Where the batch starts (JSON).
    pub start: String,
    /// Whether it is the query's first batch (which is committed even when empty, to
    /// pin where the query started).
    pub first: bool,
    /// Where the batch ends: the position to commit with it (JSON).
    pub end: String,
    /// Where the source stood when the batch was planned (JSON).
    pub latest: String,
    /// Offsets (Kafka) or events the batch covers.
    pub input_rows: u64,
    /// What is left behind the batch, per partition (`topic-partition`).
    pub lag: BTreeMap<String, i64>,
}

impl SourceBatch {
    /// Whether the batch holds nothing new (and need not run).
    pub fn is_empty(&self) -> bool {
        !self.first && self.input_rows == 0 && self.start == self.end
    }
}

impl StreamSource {
    /// A short description (Spark's `sources[].description`).
    pub fn description(&self) -> String {
        match self {
            Self::Kafka(options) => format!("KafkaV2[{:?}]", options.subscription),
            Self::Events { spec, .. } => format!("GenerateEvents[kind={:?}]", spec.kind),
            Self::Table {
                namespace, name, ..
            } => format!("IcebergTable[{namespace}.{name}]"),
        }
    }

    /// The schema of its rows.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Self::Kafka(options) => record_schema(options.include_headers),
            Self::Events { spec, .. } => event_schema(spec.kind),
            Self::Table { schema, .. } => Arc::clone(schema),
        }
    }

    /// The source of a query that started at `started_ms`: generated events without
    /// an explicit `start` begin then.
    pub fn started_at(mut self, started_ms: i64) -> Self {
        if let Self::Events {
            spec, start_given, ..
        } = &mut self
            && !*start_given
        {
            spec.start_ms = started_ms;
        }
        self
    }

    /// The source of a query resuming from `committed`: generated events keep the
    /// start time the query's first run gave them (it travels in the offsets).
    pub fn resumed_from(mut self, committed: Option<&str>) -> Self {
        if let Self::Events {
            spec, start_given, ..
        } = &mut self
            && !*start_given
            && let Some(start) = committed.and_then(events_start)
        {
            spec.start_ms = start;
        }
        self
    }

    /// The batch from `start` to `end` again (one committed to another table first);
    /// a table source needs `latest`, the table as it stands.
    pub async fn replay(
        &self,
        start: &str,
        end: &str,
        latest: Option<&Latest>,
    ) -> Result<SourceBatch> {
        match self {
            Self::Table { .. } => {
                let Some(Latest::Table(table)) = latest else {
                    return plan_err!("replaying a batch of a table stream needs the table");
                };
                let from = snapshot_position(start)?;
                let to = snapshot_position(end)?;
                table_batch(table, from, to, start.to_string(), false).await
            }
            Self::Kafka(options) => {
                let from = SourceOffsets::from_json(start)?;
                let to = SourceOffsets::from_json(end)?;
                let ranges = ranges_between(&from, &to);
                Ok(SourceBatch {
                    input_rows: ranges.iter().map(|r| r.len() as u64).sum(),
                    table: Arc::new(KafkaTable::with_ranges(options.clone(), ranges)),
                    start: start.to_string(),
                    first: false,
                    end: end.to_string(),
                    latest: end.to_string(),
                    lag: BTreeMap::new(),
                })
            }
            Self::Events { spec, .. } => {
                let (from, to) = (events_position(start)?, events_position(end)?);
                Ok(SourceBatch {
                    table: Arc::new(EventsTable {
                        spec: *spec,
                        from,
                        to: to.max(from),
                    }),
                    start: start.to_string(),
                    first: false,
                    end: end.to_string(),
                    latest: end.to_string(),
                    input_rows: to.saturating_sub(from),
                    lag: BTreeMap::new(),
                })
            }
        }
    }

    /// Where the source stands at `now_ms` (asks the brokers for Kafka; blocks). A
    /// table source stands where its table does: the caller loads it.
    pub fn latest(&self, now_ms: i64) -> Result<Latest> {
        match self {
            Self::Table {
                namespace, name, ..
            } => plan_err!("{namespace}.{name} is read through the catalog: load the table"),
            Self::Kafka(options) => Ok(Latest::Kafka(watermarks(options)?)),
            Self::Events { spec, count, .. } => {
                let due = if now_ms < spec.start_ms {
                    0
                } else {
                    ((now_ms - spec.start_ms) as f64 * spec.rate / 1000.0).floor() as u64 + 1
                };
                Ok(Latest::Events(count.map_or(due, |c| due.min(c))))
            }
        }
    }

    /// Whether nothing will ever come after `position` (a generator with a count,
    /// all of it read).
    pub fn exhausted(&self, position: Option<&str>) -> Result<bool> {
        match (self, position) {
            (
                Self::Events {
                    count: Some(count), ..
                },
                Some(position),
            ) => Ok(events_position(position)? >= *count),
            _ => Ok(false),
        }
    }

    /// The batch after `committed` (the end of the last committed batch; `None`
    /// before the first), reading up to `latest`; `limited` applies the per-trigger
    /// limits (`maxOffsetsPerTrigger`, `maxEventsPerTrigger`).
    pub async fn plan_batch(
        &self,
        committed: Option<&str>,
        latest: &Latest,
        limited: bool,
    ) -> Result<SourceBatch> {
        match (self, latest) {
            (Self::Table { .. }, Latest::Table(table)) => {
                let from = committed.map(snapshot_position).transpose()?.flatten();
                let to = table.metadata().current_snapshot_id();
                let start = snapshot_json(from);
                table_batch(table, from, to, start, committed.is_none()).await
            }
            (Self::Kafka(options), Latest::Kafka(partitions)) => {
                let committed = committed.map(SourceOffsets::from_json).transpose()?;
                let batch = plan_micro_batch(
                    committed.as_ref(),
                    partitions,
                    options.starting.as_ref(),
                    options.max_offsets_per_trigger.filter(|_| limited),
                    options.fail_on_data_loss,
                )?;
                let input_rows = batch.ranges.iter().map(|r| r.len() as u64).sum();
                let mut lag = BTreeMap::new();
                let mut latest_offsets = SourceOffsets::default();
                for w in partitions {
                    let read = batch.end.get(&w.topic, w.partition).unwrap_or(w.high);
                    lag.insert(format!("{}-{}", w.topic, w.partition), w.high - read);
                    latest_offsets
                        .0
                        .entry(w.topic.clone())
                        .or_default()
                        .insert(w.partition, w.high);
                }
                Ok(SourceBatch {
                    table: Arc::new(KafkaTable::with_ranges(options.clone(), batch.ranges)),
                    start: batch.start.to_json(),
                    first: committed.is_none(),
                    end: batch.end.to_json(),
                    latest: latest_offsets.to_json(),
                    input_rows,
                    lag,
                })
            }
            (
                Self::Events {
                    spec,
                    max_per_trigger,
                    ..
                },
                Latest::Events(due),
            ) => {
                let from = committed.map(events_position).transpose()?.unwrap_or(0);
                let limit = if limited {
                    max_per_trigger.unwrap_or(DEFAULT_MAX_EVENTS_PER_TRIGGER)
                } else {
                    u64::MAX
                };
                let to = (*due).max(from).min(from.saturating_add(limit));
                Ok(SourceBatch {
                    table: Arc::new(EventsTable {
                        spec: *spec,
                        from,
                        to,
                    }),
                    start: events_json(from, spec.start_ms),
                    first: committed.is_none(),
                    end: events_json(to, spec.start_ms),
                    latest: events_json(*due, spec.start_ms),
                    input_rows: to - from,
                    lag: BTreeMap::from([("events".to_string(), due.saturating_sub(to) as i64)]),
                })
            }
            _ => plan_err!("a streaming source was asked to plan with another source's offsets"),
        }
    }
}

/// The rows a table's snapshots after `from` up to `to` appended.
async fn table_batch(
    table: &iceberg::table::Table,
    from: Option<i64>,
    to: Option<i64>,
    start: String,
    first: bool,
) -> Result<SourceBatch> {
    let files = crate::iceberg::snapshots::appended_files(table, from, to)
        .await
        .map_err(crate::iceberg::table::iceberg_error)?;
    let input_rows = files.iter().map(|f| f.records).sum();
    let end = snapshot_json(to);
    Ok(SourceBatch {
        table: Arc::new(crate::iceberg::IcebergTable::with_files(
            table.clone(),
            files,
        )?),
        first,
        latest: end.clone(),
        end,
        start,
        input_rows,
        lag: BTreeMap::from([(table.identifier().to_string(), 0)]),
    })
}

/// `{"snapshot":ID}`: the last snapshot of the table read (`null`: none yet).
fn snapshot_json(snapshot: Option<i64>) -> String {
    match snapshot {
        Some(id) => format!("{{\"snapshot\":{id}}}"),
        None => "{\"snapshot\":null}".to_string(),
    }
}

fn snapshot_position(json: &str) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Position {
        snapshot: Option<i64>,
    }
    serde_json::from_str::<Position>(json)
        .map(|p| p.snapshot)
        .map_err(|e| DataFusionError::Plan(format!("invalid table stream offsets {json}: {e}")))
}

/// `{"events":N,"start":MS}`: the next event, and when event 0 was due.
fn events_json(n: u64, start_ms: i64) -> String {
    format!("{{\"events\":{n},\"start\":{start_ms}}}")
}

fn events_start(json: &str) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()?
        .get("start")?
        .as_i64()
}

fn events_position(json: &str) -> Result<u64> {
    #[derive(Deserialize)]
    struct Position {
        events: u64,
    }
    serde_json::from_str::<Position>(json)
        .map(|p| p.events)
        .map_err(|e| DataFusionError::Plan(format!("invalid event generator offsets {json}: {e}")))
}

/// A streaming source in a plan. It has rows only through a streaming query, which
/// swaps it for one micro-batch at a time.
#[derive(Debug, Clone)]
pub struct StreamSourceTable {
    /// The source.
    pub source: StreamSource,
}

#[async_trait]
impl TableProvider for StreamSourceTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan_err!(
            "STREAM(...) is read by streaming queries only: CREATE STREAMING TABLE t AS SELECT ... \
             FROM STREAM(...), or INSERT INTO t SELECT ... FROM STREAM(...). For a one-off read \
             of what is there now, drop STREAM(...) around the source"
        )
    }
}

/// `sparkling_stream_kafka(...)`, what `STREAM(read_kafka(...))` becomes.
#[derive(Debug, Default)]
pub struct StreamKafkaFunction;

impl TableFunctionImpl for StreamKafkaFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let pairs = option_pairs("read_kafka", args)?;
        let options = KafkaOptions::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        if options.ending != crate::kafka::options::OffsetSpec::Latest {
            return plan_err!("endingOffsets applies to batch reads only, not to STREAM(...)");
        }
        Ok(Arc::new(StreamSourceTable {
            source: StreamSource::Kafka(options),
        }))
    }
}

/// `sparkling_stream_events(...)`, what `STREAM(generate_events(...))` becomes.
#[derive(Debug, Default)]
pub struct StreamEventsFunction;

impl TableFunctionImpl for StreamEventsFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let mut pairs = option_pairs("generate_events", args)?;
        let mut max_per_trigger = None;
        let mut start_given = false;
        pairs.retain(|(k, v)| {
            if k.eq_ignore_ascii_case("start") {
                start_given = true;
            }
            if k.eq_ignore_ascii_case("maxEventsPerTrigger") {
                max_per_trigger = Some(v.clone());
                return false;
            }
            true
        });
        let max_per_trigger = match max_per_trigger {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    return plan_err!(
                        "generate_events: 'maxEventsPerTrigger' must be a positive integer, got '{v}'"
                    );
                }
            },
            None => None,
        };
        let (spec, count) =
            parse_event_options(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        Ok(Arc::new(StreamSourceTable {
            source: StreamSource::Events {
                spec,
                start_given,
                count,
                max_per_trigger,
            },
        }))
    }
}

/// The table name `sparkling_stream_table(...)` was called with.
pub fn stream_table_name(args: &[Expr]) -> Result<String> {
    match args {
        [Expr::Literal(value, _)] => value.try_as_str().flatten().map(str::to_string),
        _ => None,
    }
    .ok_or_else(|| DataFusionError::Plan("STREAM(table) names one table".to_string()))
}

/// `sparkling_stream_table('ns.table')`, what `STREAM(ns.table)` becomes: the rows
/// appended to an Iceberg table.
#[derive(Debug)]
pub struct StreamTableFunction {
    /// Where the table is.
    pub catalog: crate::iceberg::IcebergCatalog,
    /// The namespace of unqualified names.
    pub default_namespace: String,
}

impl TableFunctionImpl for StreamTableFunction {
    fn call(&self, args: &[Expr]) -> Result<Arc<dyn TableProvider>> {
        let full = stream_table_name(args)?;
        let (namespace, name) =
            sparkling_sql::names::split_table_name(&full, &self.default_namespace);
        let catalog = self.catalog.clone();
        let (ns, n) = (namespace.clone(), name.clone());
        let Some(table) =
            crate::iceberg::catalog::block_on(async move { catalog.load(&ns, &n).await })?
        else {
            return plan_err!("STREAM({full}): table {namespace}.{name} does not exist");
        };
        let schema = crate::iceberg::IcebergTable::new(table, None)?.schema();
        Ok(Arc::new(StreamSourceTable {
            source: StreamSource::Table {
                namespace,
                name,
                schema,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    fn events(count: Option<u64>, max: Option<u64>) -> StreamSource {
        StreamSource::Events {
            spec: EventSpec {
                kind: EventKind::Listen,
                rate: 10.0,
                seed: 0,
                users: 10,
                start_ms: 1_000,
            },
            start_given: true,
            count,
            max_per_trigger: max,
        }
    }

    #[test]
    fn generated_events_are_due_at_their_time() {
        let source = events(None, None);
        let Latest::Events(due) = source.latest(999).unwrap() else {
            panic!()
        };
        assert_eq!(due, 0);
        // Events 0..=10 are due one second in (one every 100 ms).
        let Latest::Events(due) = source.latest(2_000).unwrap() else {
            panic!()
        };
        assert_eq!(due, 11);
        let capped = events(Some(5), None);
        let Latest::Events(due) = capped.latest(2_000).unwrap() else {
            panic!()
        };
        assert_eq!(due, 5);
    }

    #[tokio::test]
    async fn event_batches_continue_where_the_last_ended() {
        let source = events(Some(100), Some(30));
        let latest = Latest::Events(100);
        let first = source.plan_batch(None, &latest, true).await.unwrap();
        assert_eq!(
            (first.input_rows, first.end.as_str()),
            (30, "{\"events\":30,\"start\":1000}")
        );
        let second = source
            .plan_batch(Some(&first.end), &latest, true)
            .await
            .unwrap();
        assert_eq!(second.input_rows, 30);
        assert_eq!(second.end, "{\"events\":60,\"start\":1000}");
        let again = source
            .replay(&second.start, &second.end, None)
            .await
            .unwrap();
        assert_eq!(again.input_rows, 30);
        assert_eq!(again.end, second.end);
        assert_eq!(second.lag["events"], 40);
        // Without the limit (Trigger.Once) the rest comes at once.
        let rest = source
            .plan_batch(Some(&second.end), &latest, false)
            .await
            .unwrap();
        assert_eq!(rest.input_rows, 40);
        assert!(source.exhausted(Some(&rest.end)).unwrap());
        let nothing = source
            .plan_batch(Some(&rest.end), &latest, true)
            .await
            .unwrap();
        assert!(nothing.is_empty());
        assert!(
            source
                .plan_batch(Some("{\"topic\":{}}"), &latest, true)
                .await
                .is_err()
        );
    }

    #[test]
    fn the_query_start_is_the_default_event_time() {
        let mut source = events(None, None);
        if let StreamSource::Events { start_given, .. } = &mut source {
            *start_given = false;
        }
        let started = source.started_at(50_000);
        let StreamSource::Events { spec, .. } = &started else {
            panic!()
        };
        assert_eq!(spec.start_ms, 50_000);
        // A later run resumes with the first run's start, whenever it was defined.
        let resumed = started
            .started_at(90_000)
            .resumed_from(Some("{\"events\":7,\"start\":50000}"));
        let StreamSource::Events { spec, .. } = resumed else {
            panic!()
        };
        assert_eq!(spec.start_ms, 50_000);
    }
}
