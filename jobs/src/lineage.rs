//! OpenLineage run events for submitted jobs and pipeline updates: `START` when a job
//! (or a dataset of a pipeline update) starts, `COMPLETE`, `FAIL` or `ABORT` when it
//! ends, each naming the datasets read (tables, Kafka topics, the event generator)
//! and written. Events go, in order, to an HTTP endpoint (OpenLineage's HTTP
//! transport: `POST {url}/api/v1/lineage`) or are appended to a file as JSON lines.
//! Delivery never fails a job: an endpoint that is down costs a warning.

use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::error::{JobsError, Result};

pub use crate::datasets::{DatasetName, source_datasets};

/// Identifies this producer in every event.
pub const PRODUCER: &str = "https://github.com/sparkling-rs/sparkling";
const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent";
/// The OpenLineage namespace of Sparkling's jobs.
pub const JOB_NAMESPACE: &str = "sparkling";

/// What happened to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// It started.
    Start,
    /// It ended well.
    Complete,
    /// It failed.
    Fail,
    /// It was killed.
    Abort,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Complete => "COMPLETE",
            Self::Fail => "FAIL",
            Self::Abort => "ABORT",
        }
    }
}

/// One run event.
#[derive(Debug, Clone)]
pub struct RunEvent {
    /// What happened.
    pub event_type: EventType,
    /// The run (a UUID).
    pub run_id: String,
    /// The job's name.
    pub job: String,
    /// The run this one is part of (run id, job name): a pipeline update's dataset.
    pub parent: Option<(String, String)>,
    /// Datasets read.
    pub inputs: Vec<DatasetName>,
    /// Datasets written, with the rows written if known.
    pub outputs: Vec<(DatasetName, Option<u64>)>,
    /// Why it failed.
    pub error: Option<String>,
}

impl RunEvent {
    /// The event as OpenLineage JSON, at `time` (ISO 8601).
    pub fn to_json(&self, time: &str) -> Value {
        let mut run_facets = serde_json::Map::new();
        if let Some((run_id, job)) = &self.parent {
            run_facets.insert(
                "parent".into(),
                json!({
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json",
                    "run": {"runId": run_id},
                    "job": {"namespace": JOB_NAMESPACE, "name": job},
                }),
            );
        }
        if let Some(message) = &self.error {
            run_facets.insert(
                "errorMessage".into(),
                json!({
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
                    "message": message,
                    "programmingLanguage": "SQL",
                }),
            );
        }
        let inputs: Vec<Value> = self
            .inputs
            .iter()
            .map(|d| json!({"namespace": d.namespace, "name": d.name}))
            .collect();
        let outputs: Vec<Value> = self
            .outputs
            .iter()
            .map(|(d, rows)| {
                let mut output = json!({"namespace": d.namespace, "name": d.name});
                if let Some(rows) = rows {
                    output["outputFacets"] = json!({"outputStatistics": {
                        "_producer": PRODUCER,
                        "_schemaURL": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
                        "rowCount": rows,
                    }});
                }
                output
            })
            .collect();
        json!({
            "eventType": self.event_type.as_str(),
            "eventTime": time,
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": self.run_id, "facets": run_facets},
            "job": {"namespace": JOB_NAMESPACE, "name": self.job},
            "inputs": inputs,
            "outputs": outputs,
        })
    }
}

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Transport {
    /// OpenLineage's HTTP transport.
    Http(String),
    /// JSON lines appended to a file.
    File(PathBuf),
}

/// The lineage emitter; without a target it drops events.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    sender: Option<mpsc::UnboundedSender<RunEvent>>,
    /// The namespace of the catalog's tables.
    tables: String,
}

impl Lineage {
    /// An emitter to `target` (`http(s)://host:port` or a file path) naming tables
    /// of the catalog at `catalog_uri`. Must be called inside a tokio runtime.
    pub fn start(target: Option<&str>, catalog_uri: Option<&str>) -> Result<Self> {
        let tables = match catalog_uri {
            Some(uri) => format!("iceberg+{}", uri.trim_end_matches('/')),
            None => "iceberg".to_string(),
        };
        let Some(target) = target.filter(|t| !t.trim().is_empty()) else {
            return Ok(Self {
                sender: None,
                tables,
            });
        };
        let transport = if target.starts_with("http://") || target.starts_with("https://") {
            Transport::Http(format!("{}/api/v1/lineage", target.trim_end_matches('/')))
        } else {
            let path = PathBuf::from(target.strip_prefix("file:").unwrap_or(target));
            // Fail now, not at the first event, if the file cannot be written.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| {
                    JobsError::InvalidInput(format!(
                        "cannot write OpenLineage events to {}: {e}",
                        path.display()
                    ))
                })?;
            Transport::File(path)
        };
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(deliver(transport, receiver));
        Ok(Self {
            sender: Some(sender),
            tables,
        })
    }

    /// Whether events go anywhere.
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Queues `event` (events are delivered in the order they were queued).
    pub fn emit(&self, event: RunEvent) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(event);
        }
    }

    /// The name of table `ns.table` of the catalog.
    pub fn table(&self, qualified: &str) -> DatasetName {
        DatasetName {
            namespace: self.tables.clone(),
            name: qualified.to_string(),
        }
    }
}

async fn deliver(transport: Transport, mut events: mpsc::UnboundedReceiver<RunEvent>) {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .ok();
    while let Some(event) = events.recv().await {
        let body = event.to_json(&iso_now());
        let result = match &transport {
            Transport::Http(url) => match &client {
                Some(client) => client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                None => Err("no HTTP client".to_string()),
            },
            Transport::File(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{body}"))
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = result {
            tracing::warn!(
                "could not deliver an OpenLineage {} event of {}: {e}",
                event.event_type.as_str(),
                event.job
            );
        }
    }
}

fn iso_now() -> String {
    let ms = sparkling_engine::clock::now_ms();
    let t = sparkling_engine::clock::utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        ms.rem_euclid(1000)
    )
}

/// A run id for `key` (the same key, the same id).
pub fn run_id(key: &str) -> String {
    sparkling_engine::stable_uuid(&format!("sparkling-run\n{key}"))
}

/// Something a statement reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A table of the catalog (`ns.table`).
    Table(String),
    /// Another source (a Kafka topic, generated events).
    Source(DatasetName),
}

/// What a SQL statement reads and the tables (`ns.table`) it writes, as far as it
/// parses: `CREATE TABLE ... AS`, `CREATE STREAMING TABLE`, `INSERT INTO`, queries.
pub fn statement_datasets(sql: &str) -> (Vec<Read>, Vec<String>) {
    use crate::pipelines::graph::qualify_query;
    use sparkling_engine::session::DEFAULT_SCHEMA;
    use sparkling_sql::ddl::{Statement, parse};
    use sparkling_sql::names::table_name_parts;
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let read = |query: &str, reads: &mut Vec<Read>| {
        if let Ok(q) = qualify_query(query, DEFAULT_SCHEMA) {
            reads.extend(
                q.inputs
                    .into_iter()
                    .map(|i| Read::Table(i.table.to_string())),
            );
            reads.extend(q.sources.into_iter().map(Read::Source));
        }
    };
    let name = |parts: &[String]| {
        table_name_parts(parts)
            .ok()
            .map(|(ns, t)| format!("{}.{}", ns.to_lowercase(), t.to_lowercase()))
    };
    match parse(sql) {
        Ok(Some(
            Statement::CreateTable(table)
            | Statement::CreateStreamingTable { table, .. }
            | Statement::CreateMaterializedView { table, .. },
        )) => {
            writes.extend(name(&table.name));
            if let Some(query) = &table.query {
                read(query, &mut reads);
            }
        }
        Ok(Some(Statement::InsertStream { table, query })) => {
            writes.extend(name(&table));
            read(&query, &mut reads);
        }
        Ok(Some(_)) => {}
        Ok(None) | Err(_) => {
            use datafusion::sql::sqlparser::ast::{ObjectNamePart, Statement as Sql, TableObject};
            read(sql, &mut reads);
            let named = sparkling_sql::named_args::rewrite(sql);
            let parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
                &datafusion::sql::sqlparser::dialect::GenericDialect {},
                named.as_deref().unwrap_or(sql),
            );
            if let Ok(statements) = parsed
                && let [Sql::Insert(insert)] = statements.as_slice()
                && let TableObject::TableName(table) = &insert.table
            {
                let parts: Vec<String> = table
                    .0
                    .iter()
                    .filter_map(|p| match p {
                        ObjectNamePart::Identifier(i) => Some(i.value.clone()),
                        _ => None,
                    })
                    .collect();
                writes.extend(name(&parts));
            }
        }
    }
    (reads, writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_openlineage_run_events() {
        let lineage = Lineage {
            sender: None,
            tables: "iceberg+http://c:8181".into(),
        };
        let event = RunEvent {
            event_type: EventType::Fail,
            run_id: run_id("x"),
            job: "streamify.silver".into(),
            parent: Some((run_id("p"), "streamify".into())),
            inputs: vec![lineage.table("streamify.bronze")],
            outputs: vec![(lineage.table("streamify.silver"), Some(5))],
            error: Some("boom".into()),
        };
        let json = event.to_json("2026-11-30T00:00:00.000Z");
        assert_eq!(json["eventType"], "FAIL");
        assert_eq!(json["run"]["runId"], run_id("x"));
        assert_eq!(json["run"]["facets"]["parent"]["job"]["name"], "streamify");
        assert_eq!(json["run"]["facets"]["errorMessage"]["message"], "boom");
        assert_eq!(json["inputs"][0]["namespace"], "iceberg+http://c:8181");
        assert_eq!(
            json["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
            5
        );
        assert_eq!(run_id("x").len(), 36);
        assert_eq!(run_id("x"), run_id("x"));
    }

    #[test]
    fn statements_name_what_they_read_and_write() {
        let (reads, writes) = statement_datasets(
            "CREATE TABLE lake.totals AS SELECT * FROM lake.orders o JOIN dims d ON o.id = d.id",
        );
        assert_eq!(writes, ["lake.totals"]);
        assert_eq!(
            reads,
            [
                Read::Table("lake.orders".into()),
                Read::Table("default.dims".into())
            ]
        );
        let (reads, writes) = statement_datasets(
            "INSERT INTO lake.raw SELECT * FROM read_kafka(bootstrapServers => 'b:9092', \
             subscribe => 'clicks')",
        );
        assert_eq!(writes, ["lake.raw"]);
        assert_eq!(
            reads,
            [Read::Source(DatasetName {
                namespace: "kafka://b:9092".into(),
                name: "clicks".into()
            })]
        );
        assert_eq!(statement_datasets("SET a = 1"), (vec![], vec![]));
    }

    #[tokio::test]
    async fn the_file_transport_appends_json_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lineage.jsonl");
        let lineage = Lineage::start(Some(path.to_str().unwrap()), None).unwrap();
        for event_type in [EventType::Start, EventType::Complete] {
            lineage.emit(RunEvent {
                event_type,
                run_id: run_id("r"),
                job: "j".into(),
                parent: None,
                inputs: vec![],
                outputs: vec![(lineage.table("a.b"), None)],
                error: None,
            });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if lines.len() == 2 {
                assert_eq!(lines[0]["eventType"], "START");
                assert_eq!(lines[1]["eventType"], "COMPLETE");
                assert_eq!(lines[1]["outputs"][0]["namespace"], "iceberg");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{text}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(Lineage::start(Some("/nonexistent/dir/x.jsonl"), None).is_err());
    }

    #[test]
    fn kafka_topics_and_generators_are_datasets() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let kafka = source_datasets(
            "sparkling_stream_kafka",
            &pairs(&[
                ("bootstrapServers", "b1:9092,b2:9092"),
                ("subscribe", "a, b"),
            ]),
        );
        assert_eq!(kafka.len(), 2);
        assert_eq!(kafka[0].namespace, "kafka://b1:9092");
        assert_eq!(kafka[1].name, "b");
        let events = source_datasets("generate_events", &pairs(&[("kind", "listen")]));
        assert_eq!(events[0].name, "generate_events/listen");
    }
}
