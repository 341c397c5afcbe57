//! Pipelines, in the style of Spark Declarative Pipelines: a spec and SQL files
//! (`sparkling_sql::pipeline_spec`) define streaming tables and materialized views whose graph ([`graph`])
//! decides the order of an update. An update first checks the whole graph
//! ([`validate`]), then runs each dataset after those it reads:
//!
//! - a streaming table is a streaming query (`sparkling_lakehouse::streaming`) into
//!   its table (named after the table, so each update goes on from the last one's
//!   offsets); in a one-shot update it reads what is available and stops;
//! - a materialized view is recomputed and its rows replaced in one overwrite
//!   snapshot.
//!
//! Expectations are checked on the rows of every batch and refresh
//! (`sparkling_lakehouse::expectations`); the counts of an update are read back from the
//! snapshots it committed. In continuous mode the streams keep running and the views
//! refresh on an interval until the job is killed. A submitted pipeline is run by
//! [`crate::submissions`], which records a [`PipelineRun`].

pub mod graph;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::datasource::TableProvider;
use iceberg::Catalog;
use serde::{Deserialize, Serialize};
use sparkling_connectors::iceberg::{IcebergCatalog, IcebergTable};
use tokio::sync::watch;

use crate::Services;
use crate::error::{JobsError, Result};
use crate::lineage::{EventType, Lineage, RunEvent};
use graph::{Dataset, DatasetKind, Input, PipelineGraph};
use sparkling_engine::clock::now_ms;
use sparkling_engine::session::Session;
use sparkling_lakehouse::commands::TableDefinition;
use sparkling_lakehouse::expectations::{self, ExpectationCounts};
use sparkling_lakehouse::insert::{Append, append};
use sparkling_lakehouse::streaming::batch::{QUERY_ID_PROPERTY, conform, table_reference};
use sparkling_lakehouse::streaming::sql::{StartRequest, start_query};
use sparkling_lakehouse::streaming::{End, TableName, Trigger};
use validate::{PlannedSchemas, same_columns};

/// Snapshot summary key naming the pipeline that wrote a view's refresh.
pub const PIPELINE_PROPERTY: &str = "sparkling.pipeline";
/// Snapshot summary key naming the update (the submission) that wrote it.
pub const UPDATE_PROPERTY: &str = "sparkling.pipeline-update";

/// The default interval of view refreshes in continuous mode.
const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// The default trigger of streams in continuous mode.
const DEFAULT_CONTINUOUS_TRIGGER_MS: u64 = 10_000;

/// A pipeline job as the scheduler records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineRun {
    /// The pipeline's name.
    pub name: String,
    /// The namespace of its datasets.
    pub namespace: String,
    /// Whether it runs continuously.
    pub continuous: bool,
    /// Completed updates (refresh rounds, in continuous mode).
    pub updates: u64,
    /// Its datasets, in the order they run.
    pub datasets: Vec<DatasetRun>,
}

sparkling_engine::state_enum! {
    /// Where one dataset of a pipeline stands in the current update.
    pub enum DatasetState {
        /// Not updated yet.
        Pending => "PENDING",
        /// Updating (a continuous stream stays here).
        Running => "RUNNING",
        /// Updated.
        Completed => "COMPLETED",
        /// Its update failed.
        Failed => "FAILED",
        /// Not updated because an input failed.
        Skipped => "SKIPPED",
    }
}

/// Where one dataset stands in the current update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRun {
    /// `namespace.table`.
    pub name: String,
    /// What it is.
    pub kind: DatasetKind,
    /// The tables it reads (the graph's edges).
    pub inputs: Vec<Input>,
    /// Where it is defined.
    pub defined_at: String,
    /// Where it stands.
    pub state: DatasetState,
    /// Rows written by the last update.
    pub rows_written: Option<u64>,
    /// Expectation counts of the last update.
    pub expectations: Vec<ExpectationCounts>,
    /// How long the last update of it took.
    pub duration_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// The streaming query of a streaming table.
    pub query_id: Option<String>,
}

impl PipelineRun {
    /// A run of `graph` with nothing done yet.
    pub fn planned(graph: &PipelineGraph, continuous: bool) -> Self {
        Self {
            name: graph.spec.name.clone(),
            namespace: graph.spec.namespace(),
            continuous,
            updates: 0,
            datasets: graph
                .datasets
                .iter()
                .map(|d| DatasetRun {
                    name: d.name.to_string(),
                    kind: d.kind,
                    inputs: d.inputs.clone(),
                    defined_at: d.defined_at.clone(),
                    state: DatasetState::Pending,
                    rows_written: None,
                    expectations: Vec::new(),
                    duration_ms: None,
                    error: None,
                    query_id: None,
                })
                .collect(),
        }
    }
}

/// What an update reports as it goes.
pub enum Change {
    /// A dataset's new state.
    Dataset(DatasetRun),
    /// A streaming query the update started.
    Stream(String),
    /// An update (refresh round) completed.
    Updated,
}

/// Where an update's datasets report their runs: each dataset of each update is an
/// OpenLineage run whose parent is the job's run.
pub struct PipelineLineage<'a> {
    /// The emitter.
    pub lineage: &'a Lineage,
    /// The job's run id and name.
    pub parent: (String, String),
}

/// How an update runs.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Continuous mode.
    pub continuous: bool,
    /// How often views refresh in continuous mode.
    pub refresh_interval: Duration,
    /// The id recorded with what the update writes.
    pub update_id: String,
}

impl UpdateOptions {
    /// The options of `graph`, with `overrides` (the submission's settings:
    /// `spark.sparkling.pipeline.continuous`, `...refreshInterval`) first.
    pub fn of(
        graph: &PipelineGraph,
        overrides: &BTreeMap<String, String>,
        update_id: &str,
    ) -> Result<Self> {
        let continuous = match overrides.get("spark.sparkling.pipeline.continuous") {
            Some(v) => v.parse::<bool>().map_err(|_| {
                JobsError::InvalidInput(format!(
                    "spark.sparkling.pipeline.continuous must be true or false, got {v}"
                ))
            })?,
            None => graph.spec.continuous,
        };
        let interval = overrides
            .get("spark.sparkling.pipeline.refreshInterval")
            .or(graph.spec.refresh_interval.as_ref());
        let refresh_interval = match interval {
            Some(text) => match Trigger::parse(text)? {
                Trigger::ProcessingTime { interval_ms } if interval_ms > 0 => {
                    Duration::from_millis(interval_ms)
                }
                _ => {
                    return Err(JobsError::InvalidInput(format!(
                        "invalid refresh interval {text} (e.g. 30 seconds)"
                    )));
                }
            },
            None => DEFAULT_REFRESH_INTERVAL,
        };
        Ok(Self {
            continuous,
            refresh_interval,
            update_id: update_id.to_string(),
        })
    }
}

/// Runs `graph`'s update (continuous: updates, until `killed`). `Err` names the
/// dataset that failed; datasets that read it are not run.
pub async fn run(
    services: &Services,
    session: &Arc<Session>,
    graph: &PipelineGraph,
    options: &UpdateOptions,
    killed: watch::Receiver<bool>,
    report: &(dyn Fn(Change) + Send + Sync),
    lineage: &PipelineLineage<'_>,
) -> Result<()> {
    let catalog = session.iceberg.clone().ok_or_else(|| {
        JobsError::Unsupported(
            "pipelines write Iceberg tables: start the scheduler with --catalog".to_string(),
        )
    })?;
    for (key, value) in &graph.settings {
        session.set_conf(key, value)?;
    }
    let schemas = validate::validate(session, &catalog, graph).await?;
    let update = Update {
        services,
        session,
        catalog: &catalog,
        graph,
        options,
        schemas,
        killed,
        report,
        lineage,
    };
    let mut runs = PipelineRun::planned(graph, options.continuous).datasets;
    let mut round = 0u64;
    loop {
        update.round(&mut runs, round == 0).await?;
        report(Change::Updated);
        round += 1;
        if !options.continuous {
            return Ok(());
        }
        update.wait_for_next_round().await?;
    }
}

struct Update<'a> {
    services: &'a Services,
    session: &'a Arc<Session>,
    catalog: &'a IcebergCatalog,
    graph: &'a PipelineGraph,
    options: &'a UpdateOptions,
    schemas: PlannedSchemas,
    killed: watch::Receiver<bool>,
    report: &'a (dyn Fn(Change) + Send + Sync),
    lineage: &'a PipelineLineage<'a>,
}

impl Update<'_> {
    /// One round: every dataset in order (in continuous mode after the first round,
    /// the views only: the streams keep running).
    async fn round(&self, runs: &mut [DatasetRun], first: bool) -> Result<()> {
        let mut failed: Vec<TableName> = Vec::new();
        let mut first_error = None;
        for (dataset, run) in self.graph.datasets.iter().zip(runs.iter_mut()) {
            if *self.killed.borrow() {
                return Err(JobsError::Cancelled("the pipeline was killed".into()));
            }
            if dataset.kind == DatasetKind::StreamingTable && !first && self.options.continuous {
                continue;
            }
            if dataset.inputs.iter().any(|i| failed.contains(&i.table)) {
                run.state = DatasetState::Skipped;
                run.error = Some("an input failed".into());
                failed.push(dataset.name.clone());
                (self.report)(Change::Dataset(run.clone()));
                continue;
            }
            run.state = DatasetState::Running;
            run.error = None;
            (self.report)(Change::Dataset(run.clone()));
            let run_id = crate::lineage::run_id(&format!(
                "{}\n{}\n{}",
                self.lineage.parent.0,
                dataset.name,
                now_ms()
            ));
            self.dataset_event(dataset, &run_id, EventType::Start, None, None);
            let started = Instant::now();
            let started_ms = now_ms();
            let result = match dataset.kind {
                DatasetKind::StreamingTable => self.stream(dataset, run, started_ms).await,
                DatasetKind::MaterializedView => self.refresh(dataset).await,
            };
            run.duration_ms = Some(started.elapsed().as_millis() as u64);
            match result {
                Ok((rows, counts)) => {
                    run.state =
                        if dataset.kind == DatasetKind::StreamingTable && self.options.continuous {
                            DatasetState::Running
                        } else {
                            DatasetState::Completed
                        };
                    run.rows_written = rows;
                    run.expectations = counts;
                    // A continuous stream goes on: its run has only started.
                    if run.state == DatasetState::Completed {
                        self.dataset_event(dataset, &run_id, EventType::Complete, rows, None);
                    }
                }
                Err(e) => {
                    let event = if *self.killed.borrow() {
                        EventType::Abort
                    } else {
                        EventType::Fail
                    };
                    self.dataset_event(dataset, &run_id, event, None, Some(e.to_string()));
                    let message = format!("dataset {} failed: {e}", dataset.name);
                    run.state = DatasetState::Failed;
                    run.error = Some(e.to_string());
                    failed.push(dataset.name.clone());
                    first_error.get_or_insert(message);
                }
            }
            (self.report)(Change::Dataset(run.clone()));
            if run.state == DatasetState::Failed && *self.killed.borrow() {
                return Err(JobsError::Cancelled("the pipeline was killed".into()));
            }
        }
        match first_error {
            Some(message) => Err(JobsError::JobFailed(message)),
            None => Ok(()),
        }
    }

    /// Reports a run of `dataset` to the lineage endpoint.
    fn dataset_event(
        &self,
        dataset: &Dataset,
        run_id: &str,
        event_type: EventType,
        rows: Option<u64>,
        error: Option<String>,
    ) {
        let lineage = self.lineage.lineage;
        if !lineage.enabled() {
            return;
        }
        let mut inputs: Vec<_> = dataset
            .inputs
            .iter()
            .map(|i| lineage.table(&i.table.to_string()))
            .collect();
        inputs.extend(dataset.sources.iter().cloned());
        lineage.emit(RunEvent {
            event_type,
            run_id: run_id.to_string(),
            job: format!("{}.{}", self.graph.spec.name, dataset.name),
            parent: Some(self.lineage.parent.clone()),
            inputs,
            outputs: vec![(lineage.table(&dataset.name.to_string()), rows)],
            error,
        });
    }

    /// Sleeps until the next round; fails if a stream of the pipeline failed.
    async fn wait_for_next_round(&self) -> Result<()> {
        let deadline = Instant::now() + self.options.refresh_interval;
        let mut killed = self.killed.clone();
        while Instant::now() < deadline {
            for dataset in &self.graph.datasets {
                if dataset.kind != DatasetKind::StreamingTable {
                    continue;
                }
                let id = sparkling_lakehouse::streaming::definition::query_id(
                    &dataset.name,
                    &dataset.name.name,
                );
                if let Some(info) = self.services.streams().info(&id)
                    && info.state == sparkling_lakehouse::streaming::StreamingQueryState::Failed
                {
                    return Err(JobsError::JobFailed(format!(
                        "dataset {} failed: its stream failed: {}",
                        dataset.name,
                        info.error.unwrap_or_default()
                    )));
                }
            }
            let was_killed = tokio::select! {
                _ = killed.wait_for(|k| *k) => true,
                _ = tokio::time::sleep(Duration::from_millis(500)) => false,
            };
            if was_killed {
                return Err(JobsError::Cancelled("the pipeline was killed".into()));
            }
        }
        Ok(())
    }

    /// Creates the table of `dataset` if it does not exist, with its planned columns.
    async fn ensure_table(&self, dataset: &Dataset) -> Result<iceberg::table::Table> {
        let name = &dataset.name;
        let planned = self
            .schemas
            .get(name)
            .cloned()
            .ok_or_else(|| JobsError::Internal(format!("dataset {name} was not planned")))?;
        if let Some(table) = self.catalog.load(&name.namespace, &name.name).await? {
            let columns = IcebergTable::new(table.clone(), None)?.schema();
            let planned_df = datafusion::common::DFSchema::try_from(planned.as_ref().clone())?;
            if same_columns(&columns, &planned_df) {
                return Ok(table);
            }
            if dataset.kind == DatasetKind::StreamingTable {
                return Err(JobsError::InvalidInput(format!(
                    "the columns of streaming table {name} changed; its rows so far have the \
                     old ones. Drop the table to rebuild it from its sources"
                )));
            }
            // A view is recomputed in full anyway: rebuild it with the new columns.
            tracing::info!("materialized view {name} changed its columns; recreating it");
            self.catalog
                .client()
                .drop_table(table.identifier())
                .await
                .map_err(|e| JobsError::Internal(format!("dropping {name}: {e}")))?;
        }
        self.catalog.ensure_namespace(&name.namespace).await?;
        TableDefinition {
            namespace: name.namespace.clone(),
            name: name.name.clone(),
            schema: planned.as_ref().clone(),
            partitioned_by: dataset.partitioned_by.clone(),
            properties: dataset.properties.clone().into_iter().collect(),
            location: None,
        }
        .create(self.catalog)
        .await
        .map_err(JobsError::from)
    }

    /// Recomputes a view and replaces its rows.
    async fn refresh(&self, dataset: &Dataset) -> Result<(Option<u64>, Vec<ExpectationCounts>)> {
        let table = self.ensure_table(dataset).await?;
        let plan = sparkling_engine::statement::plan_sql(self.session, &dataset.query).await?;
        let cluster = self.services.cluster();
        let (rows, counts) = expectations::apply(
            cluster,
            self.session,
            plan,
            &dataset.expectations,
            &dataset.name.to_string(),
            self.killed.clone(),
        )
        .await?;
        let target = IcebergTable::new(table, None)?;
        let input = conform(rows, target.schema().as_ref(), &dataset.name)?;
        let mut properties = std::collections::HashMap::from([
            (PIPELINE_PROPERTY.to_string(), self.graph.spec.name.clone()),
            (UPDATE_PROPERTY.to_string(), self.options.update_id.clone()),
        ]);
        if !counts.is_empty() {
            properties.insert(
                expectations::EXPECTATIONS_PROPERTY.to_string(),
                serde_json::to_string(&counts).unwrap_or_default(),
            );
        }
        let written = append(
            cluster,
            self.session,
            self.catalog,
            Append {
                table_name: table_reference(&dataset.name),
                input: Arc::new(input),
                target,
                properties,
                replace: true,
                precondition: None,
            },
            self.killed.clone(),
            |job| tracing::debug!("refreshing {}: job {job}", dataset.name),
        )
        .await?;
        Ok((Some(written), counts))
    }

    /// Runs a streaming table's query: to the end of what is available (one-shot),
    /// or started to keep running (continuous).
    async fn stream(
        &self,
        dataset: &Dataset,
        run: &mut DatasetRun,
        started_ms: i64,
    ) -> Result<(Option<u64>, Vec<ExpectationCounts>)> {
        let trigger = if self.options.continuous {
            match self
                .session
                .get_conf(sparkling_lakehouse::streaming::definition::TRIGGER_CONF)
            {
                Some(t) => Trigger::parse(&t)?,
                None => Trigger::ProcessingTime {
                    interval_ms: DEFAULT_CONTINUOUS_TRIGGER_MS,
                },
            }
        } else {
            Trigger::AvailableNow
        };
        let request = StartRequest {
            target: dataset.name.clone(),
            query: dataset.query.clone(),
            trigger,
            name: dataset.name.name.clone(),
            dead_letter: None,
            expectations: dataset.expectations.clone(),
        };
        // Created with the columns validation planned, as a view's table is.
        self.ensure_table(dataset).await?;
        // A run of the query left over (resumed after a restart, or an earlier
        // continuous update) makes way for this update's.
        let streams = self.services.streams();
        let id = sparkling_lakehouse::streaming::definition::query_id(&dataset.name, &request.name);
        if streams.get(&id).is_some_and(|h| h.is_active()) {
            streams.stop(&id).await?;
        }
        let handle = start_query(streams, request)?;
        run.query_id = Some(handle.definition.id.clone());
        (self.report)(Change::Stream(handle.definition.id.clone()));
        if self.options.continuous {
            return Ok((None, Vec::new()));
        }
        let mut killed = self.killed.clone();
        let was_killed = tokio::select! {
            _ = handle.await_end(None) => false,
            _ = killed.wait_for(|k| *k) => true,
        };
        if was_killed {
            handle.request_stop(true);
            handle.await_end(None).await;
            return Err(JobsError::Cancelled("the pipeline was killed".into()));
        }
        if let Some(End::Failed(e)) = handle.end() {
            return Err(JobsError::JobFailed(e));
        }
        self.written_since(&dataset.name, &handle.definition.id, started_ms)
            .await
    }

    /// Rows and expectation counts of the snapshots query `query_id` committed to
    /// `table` since `since_ms`.
    async fn written_since(
        &self,
        table: &TableName,
        query_id: &str,
        since_ms: i64,
    ) -> Result<(Option<u64>, Vec<ExpectationCounts>)> {
        let Some(table) = self.catalog.load(&table.namespace, &table.name).await? else {
            return Ok((Some(0), Vec::new()));
        };
        let mut rows = 0u64;
        let mut counts = Vec::new();
        for snapshot in table.metadata().snapshots() {
            let summary = &snapshot.summary().additional_properties;
            if snapshot.timestamp_ms() < since_ms
                || summary.get(QUERY_ID_PROPERTY).map(String::as_str) != Some(query_id)
            {
                continue;
            }
            rows += summary
                .get("added-records")
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0);
            expectations::add_counts(&mut counts, &expectations::counts_of(summary));
        }
        Ok((Some(rows), counts))
    }
}
