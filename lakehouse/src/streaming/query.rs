//! One running streaming query: the trigger loop that plans each micro-batch from the
//! offsets the last committed snapshot recorded, runs it as a job, commits it, and
//! reports status and progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::catalog::TableProvider;
use iceberg::table::Table;
use parking_lot::Mutex;
use sparkling_connectors::iceberg::{IcebergCatalog, IcebergTable};
use sparkling_connectors::stream_source::{Latest, SourceBatch, StreamSource};
use tokio::sync::watch;

use super::batch::{
    BatchIdentity, CORRUPT_RECORD_COLUMN, bind_batch, conform, last_batch, not_yet_committed,
    split_dead_letters, stream_source, table_reference,
};
use super::definition::{QueryDefinition, StreamingQueryState, TableName, Trigger};
use super::progress::{
    Durations, QueryProgress, QueryStatus, RecentProgress, SinkProgress, SourceProgress, rate,
};
use crate::commands::TableDefinition;
use crate::error::{LakehouseError, Result};
use crate::insert::{Append, append};
use sparkling_engine::clock::now_ms;
use sparkling_engine::cluster::Cluster;
use sparkling_engine::session::Session;
use sparkling_engine::statement::plan_sql;

/// How long an idle query waits before asking its source again.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How often a failing step (source unreachable, job lost) is tried before the query
/// fails.
const MAX_ATTEMPTS: u32 = 6;

/// How a run of a query ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Stopped on request.
    Stopped,
    /// A bounded trigger read everything, or the source ended.
    Finished,
    /// It cannot go on.
    Failed(String),
}

impl End {
    /// How listings name a query that ended this way.
    pub fn state(&self) -> StreamingQueryState {
        match self {
            Self::Stopped => StreamingQueryState::Stopped,
            Self::Finished => StreamingQueryState::Finished,
            Self::Failed(_) => StreamingQueryState::Failed,
        }
    }
}

#[derive(Debug)]
struct Shared {
    status: QueryStatus,
    progress: RecentProgress,
    end: Option<End>,
    last_batch: Option<i64>,
}

/// A streaming query the scheduler runs.
#[derive(Debug)]
pub struct QueryHandle {
    /// What it runs.
    pub definition: QueryDefinition,
    /// This run's id (new on every start, as in Spark).
    pub run_id: String,
    shared: Mutex<Shared>,
    stop: watch::Sender<bool>,
    user_stop: AtomicBool,
    ended: watch::Sender<bool>,
}

impl QueryHandle {
    pub(crate) fn new(definition: QueryDefinition) -> Arc<Self> {
        Arc::new(Self {
            definition,
            run_id: uuid::Uuid::new_v4().to_string(),
            shared: Mutex::new(Shared {
                status: QueryStatus::idle("Initializing sources"),
                progress: RecentProgress::default(),
                end: None,
                last_batch: None,
            }),
            stop: watch::channel(false).0,
            user_stop: AtomicBool::new(false),
            ended: watch::channel(false).0,
        })
    }

    /// Spark's `status`.
    pub fn status(&self) -> QueryStatus {
        self.shared.lock().status.clone()
    }

    /// Whether it still runs.
    pub fn is_active(&self) -> bool {
        self.shared.lock().end.is_none()
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.shared.lock().end.clone()
    }

    /// Active, or how it ended ([`End::state`]).
    pub fn state(&self) -> StreamingQueryState {
        self.end()
            .map_or(StreamingQueryState::Active, |e| e.state())
    }

    /// The error it failed with, if it did.
    pub fn exception(&self) -> Option<String> {
        match self.end() {
            Some(End::Failed(e)) => Some(e),
            _ => None,
        }
    }

    /// The last batch committed (by this run or an earlier one).
    pub fn last_batch(&self) -> Option<i64> {
        self.shared.lock().last_batch
    }

    /// Spark's `recentProgress`, oldest first.
    pub fn recent_progress(&self) -> Vec<QueryProgress> {
        self.shared.lock().progress.all()
    }

    /// Spark's `lastProgress`.
    pub fn last_progress(&self) -> Option<QueryProgress> {
        self.shared.lock().progress.last().cloned()
    }

    /// Asks the query to stop; `by_user` marks it stopped for good (else, e.g. on
    /// scheduler shutdown, it resumes when the scheduler starts again).
    pub fn request_stop(&self, by_user: bool) {
        if by_user {
            self.user_stop.store(true, Ordering::SeqCst);
        }
        self.stop.send_replace(true);
    }

    /// Whether a user stopped it.
    pub fn stopped_by_user(&self) -> bool {
        self.user_stop.load(Ordering::SeqCst)
    }

    /// Waits until it has ended, at most `timeout` (`None`: no limit); whether it has.
    pub async fn await_end(&self, timeout: Option<Duration>) -> bool {
        let mut ended = self.ended.subscribe();
        let wait = ended.wait_for(|e| *e);
        match timeout {
            Some(t) => matches!(tokio::time::timeout(t, wait).await, Ok(Ok(_))),
            None => wait.await.is_ok(),
        }
    }

    pub(crate) fn finish(&self, end: End) {
        {
            let mut shared = self.shared.lock();
            shared.status = QueryStatus::idle(match &end {
                End::Stopped => "Stopped",
                End::Finished => "Finished",
                End::Failed(_) => "Terminated with exception",
            });
            shared.end = Some(end);
        }
        self.ended.send_replace(true);
    }

    fn set_status(&self, message: &str, data: bool, active: bool) {
        self.shared.lock().status = QueryStatus {
            message: message.to_string(),
            is_data_available: data,
            is_trigger_active: active,
        };
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps `d`, or less if the query is asked to stop.
    async fn pause(&self, d: Duration) {
        let mut stop = self.stop.subscribe();
        let _ = tokio::time::timeout(d, stop.wait_for(|s| *s)).await;
    }
}

/// What a query runs with.
#[derive(Clone)]
pub struct RunEnv {
    /// The cluster.
    pub cluster: Cluster,
    /// The query's own session.
    pub session: Arc<Session>,
    /// The catalog of its tables.
    pub catalog: IcebergCatalog,
}

fn timestamp(ms: i64) -> String {
    let t = sparkling_engine::clock::utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis
    )
}

async fn load_table(catalog: &IcebergCatalog, name: &TableName) -> Result<Table> {
    catalog
        .load(&name.namespace, &name.name)
        .await?
        .ok_or_else(|| LakehouseError::InvalidInput(format!("table {name} does not exist")))
}

async fn latest(env: &RunEnv, source: &StreamSource) -> Result<Latest> {
    if let StreamSource::Table {
        namespace, name, ..
    } = source
    {
        let name = TableName {
            namespace: namespace.clone(),
            name: name.clone(),
        };
        return Ok(Latest::Table(Box::new(
            load_table(&env.catalog, &name).await?,
        )));
    }
    let source = source.clone();
    tokio::task::spawn_blocking(move || source.latest(now_ms()))
        .await
        .map_err(|e| LakehouseError::Internal(format!("asking a source for its offsets: {e}")))?
        .map_err(|e| LakehouseError::Unavailable(e.strip_backtrace()))
}

/// What one committed batch did.
struct Committed {
    rows: u64,
    dead_letters: u64,
    /// Where the batch in the table ends (another run's, if it got there first).
    end: String,
}

/// Runs `handle`'s query until it is stopped, finishes or fails.
pub async fn run(handle: &QueryHandle, env: &RunEnv) -> End {
    match run_loop(handle, env).await {
        Ok(end) => end,
        // A batch cut short by a stop is not a failure.
        Err(_) if handle.stopping() => End::Stopped,
        Err(e) => End::Failed(e.to_string()),
    }
}

async fn run_loop(handle: &QueryHandle, env: &RunEnv) -> Result<End> {
    let def = &handle.definition;
    let plan = retry(handle, "planning the query", || async {
        Ok(plan_sql(&env.session, &def.query).await?)
    })
    .await?;
    if let Some(dead_letter) = &def.dead_letter {
        retry(handle, "creating the dead-letter table", || {
            ensure_dead_letter_table(env, dead_letter, &plan)
        })
        .await?;
    }
    // Resume where the last committed batch ended.
    let target = retry(handle, "loading the table", || {
        load_table(&env.catalog, &def.target)
    })
    .await?;
    let target_uuid = target.metadata().uuid().to_string();
    let resumed = last_batch(&target, &def.id, &target_uuid);
    let mut next_batch = resumed.as_ref().map_or(0, |b| b.id + 1);
    let mut committed = resumed.map(|b| b.end);
    let source = stream_source(&plan)?
        .started_at(def.created_ms)
        .resumed_from(committed.as_deref());
    handle.shared.lock().last_batch = next_batch.checked_sub(1).filter(|b| *b >= 0);
    if let Some(offsets) = &committed {
        tracing::info!(
            "streaming query {} ({}) resumes at batch {next_batch} from {offsets}",
            def.name,
            def.id
        );
    }
    // A batch the dead-letter table got but the target did not (the scheduler went
    // down between the two commits) runs again over exactly its offsets.
    let mut replay = None;
    if let Some(dead_letter) = &def.dead_letter {
        let table = retry(handle, "loading the dead-letter table", || {
            load_table(&env.catalog, dead_letter)
        })
        .await?;
        if let Some(record) = last_batch(&table, &def.id, &target_uuid)
            && record.id == next_batch
            && let Some(start) = &record.start
        {
            let table = match source {
                StreamSource::Table { .. } => Some(latest(env, &source).await?),
                _ => None,
            };
            replay = Some(source.replay(start, &record.end, table.as_ref()).await?);
        }
    }
    // Available-now reads up to where the source stands at the start.
    let bound = match def.trigger {
        Trigger::AvailableNow => {
            Some(retry(handle, "asking the source", || latest(env, &source)).await?)
        }
        _ => None,
    };
    let mut last_trigger: Option<Instant> = None;
    loop {
        if handle.stopping() {
            return Ok(End::Stopped);
        }
        let started = Instant::now();
        let started_ms = now_ms();
        handle.set_status("Getting offsets from source", false, true);
        let batch = match replay.take() {
            Some(batch) => batch,
            None => {
                let latest = match &bound {
                    Some(b) => b.clone(),
                    None => retry(handle, "asking the source", || latest(env, &source)).await?,
                };
                source
                    .plan_batch(committed.as_deref(), &latest, def.trigger != Trigger::Once)
                    .await?
            }
        };
        let latest_ms = started.elapsed().as_millis() as u64;
        if batch.is_empty() {
            if def.trigger.is_bounded() || source.exhausted(committed.as_deref())? {
                return Ok(End::Finished);
            }
            handle.set_status("Waiting for data to arrive", false, false);
            let wait = match def.trigger {
                Trigger::ProcessingTime { interval_ms } => {
                    Duration::from_millis(interval_ms).max(IDLE_POLL)
                }
                _ => IDLE_POLL,
            };
            handle.pause(wait.saturating_sub(started.elapsed())).await;
            continue;
        }
        handle.set_status("Processing new data", true, true);
        let planning = Instant::now();
        let outcome = retry(handle, "running the batch", || {
            run_batch(
                env,
                def,
                &target_uuid,
                &batch,
                next_batch,
                handle.stop.subscribe(),
            )
        })
        .await?;
        let add_batch_ms = planning.elapsed().as_millis() as u64;
        let total_ms = started.elapsed().as_millis() as u64;
        let since_last = last_trigger.map_or(total_ms, |t| t.elapsed().as_millis() as u64);
        last_trigger = Some(started);
        let progress = progress(
            handle,
            &source,
            &batch,
            next_batch,
            &outcome,
            started_ms,
            Durations {
                latest_offset: latest_ms,
                query_planning: 0,
                add_batch: add_batch_ms,
                trigger_execution: total_ms,
            },
            since_last,
        );
        {
            let mut shared = handle.shared.lock();
            shared.progress.push(progress);
            shared.last_batch = Some(next_batch);
        }
        committed = Some(outcome.end.clone());
        next_batch += 1;
        if def.trigger == Trigger::Once {
            return Ok(End::Finished);
        }
        handle.set_status("Waiting for next trigger", false, false);
        if let Trigger::ProcessingTime { interval_ms } = def.trigger {
            let interval = Duration::from_millis(interval_ms);
            handle
                .pause(interval.saturating_sub(started.elapsed()))
                .await;
        }
    }
}

/// Runs `step` until it succeeds, fails for good, or failed [`MAX_ATTEMPTS`] times.
async fn retry<T, F, Fut>(handle: &QueryHandle, what: &str, mut step: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS && !handle.stopping() => {
                let wait = Duration::from_millis(500 << attempt.min(5));
                tracing::warn!(
                    "streaming query {} ({}): {what} failed (attempt {attempt}), trying again in \
                     {} ms: {e}",
                    handle.definition.name,
                    handle.definition.id,
                    wait.as_millis()
                );
                handle.set_status(&format!("Retrying after: {e}"), false, false);
                handle.pause(wait).await;
                attempt += 1;
            }
            Err(e) if handle.stopping() => {
                return Err(LakehouseError::Cancelled(format!(
                    "stopped while {what}: {e}"
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Plans, runs and commits batch `batch_id`; a table that already holds it (an
/// earlier attempt committed before failing to report it, or another run of the
/// query) is not written again.
async fn run_batch(
    env: &RunEnv,
    def: &QueryDefinition,
    target_uuid: &str,
    batch: &SourceBatch,
    batch_id: i64,
    stop: watch::Receiver<bool>,
) -> Result<Committed> {
    let plan = plan_sql(&env.session, &def.query).await?;
    let plan = bind_batch(plan, Arc::clone(&batch.table))?;
    let identity = BatchIdentity {
        query_id: &def.id,
        target: target_uuid,
        batch_id,
        start: &batch.start,
        end: &batch.end,
    };
    let (rows, dead) = match &def.dead_letter {
        Some(table) => {
            let (good, bad) = split_dead_letters(plan)?;
            (good, Some((table, bad)))
        }
        None => (plan, None),
    };
    // The expectations count (and filter) the rows bound for the target.
    let (rows, expectations) = crate::expectations::apply(
        &env.cluster,
        &env.session,
        rows,
        &def.expectations,
        &def.target.to_string(),
        stop.clone(),
    )
    .await?;
    let mut properties = identity.properties();
    if !expectations.is_empty() {
        properties.insert(
            crate::expectations::EXPECTATIONS_PROPERTY.to_string(),
            serde_json::to_string(&expectations).unwrap_or_default(),
        );
    }
    let mut dead_letters = 0;
    // Dead letters first: the target's snapshot is what marks the batch done.
    if let Some((table, bad)) = dead
        && let Appended::Rows(n) = append_batch(
            env,
            table,
            bad,
            &identity,
            identity.properties(),
            stop.clone(),
        )
        .await?
    {
        dead_letters = n;
        #[cfg(feature = "fault-injection")]
        exit_if_told(batch_id);
    }
    Ok(
        match append_batch(env, &def.target, rows, &identity, properties, stop).await? {
            Appended::Rows(rows) => Committed {
                rows,
                dead_letters,
                end: batch.end.clone(),
            },
            Appended::AlreadyThere(end) => Committed {
                rows: 0,
                dead_letters,
                end,
            },
        },
    )
}

/// Fault injection for the tests (only in builds with the `fault-injection` feature):
/// with `SPARKLING_FAULT_EXIT_AFTER_DEAD_LETTERS=N` the scheduler process dies right
/// after committing batch N's dead letters, before the target's commit (the window a
/// crash can hit).
#[cfg(feature = "fault-injection")]
fn exit_if_told(batch_id: i64) {
    let told = std::env::var("SPARKLING_FAULT_EXIT_AFTER_DEAD_LETTERS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok());
    if told == Some(batch_id) {
        tracing::error!("exiting after the dead letters of batch {batch_id}, as told");
        std::process::exit(86);
    }
}

/// What an append did.
enum Appended {
    /// Committed this many rows.
    Rows(u64),
    /// The table holds the batch already; it ended there.
    AlreadyThere(String),
}

async fn append_batch(
    env: &RunEnv,
    name: &TableName,
    plan: datafusion::logical_expr::LogicalPlan,
    identity: &BatchIdentity<'_>,
    properties: HashMap<String, String>,
    stop: watch::Receiver<bool>,
) -> Result<Appended> {
    let table = load_table(&env.catalog, name).await?;
    if let Some(last) = last_batch(&table, identity.query_id, identity.target)
        && last.id >= identity.batch_id
    {
        return Ok(Appended::AlreadyThere(last.end));
    }
    let target = IcebergTable::new(table, None)?;
    let input = conform(plan, target.schema().as_ref(), name)?;
    let batch_id = identity.batch_id;
    let rows = append(
        &env.cluster,
        &env.session,
        &env.catalog,
        Append {
            table_name: table_reference(name),
            input: Arc::new(input),
            target,
            properties,
            replace: false,
            precondition: Some(not_yet_committed(
                identity.query_id,
                identity.target,
                batch_id,
            )),
        },
        stop,
        |job| {
            tracing::debug!(
                "streaming query {} batch {batch_id}: job {job}",
                identity.query_id
            )
        },
    )
    .await?;
    Ok(Appended::Rows(rows))
}

/// Creates the dead-letter table (the query's columns, `_corrupt_record` included)
/// if it does not exist.
async fn ensure_dead_letter_table(
    env: &RunEnv,
    table: &TableName,
    plan: &datafusion::logical_expr::LogicalPlan,
) -> Result<()> {
    let schema = plan.schema().as_arrow().clone();
    if schema.field_with_name(CORRUPT_RECORD_COLUMN).is_err() {
        // split_dead_letters explains the problem.
        split_dead_letters(plan.clone())?;
    }
    if env
        .catalog
        .load(&table.namespace, &table.name)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let nullable = arrow::datatypes::Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    );
    let created = TableDefinition {
        namespace: table.namespace.clone(),
        name: table.name.clone(),
        schema: nullable,
        partitioned_by: Vec::new(),
        properties: Default::default(),
        location: None,
    }
    .create(&env.catalog)
    .await;
    match created {
        Ok(_) => Ok(()),
        // Created meanwhile by another query.
        Err(_)
            if env
                .catalog
                .load(&table.namespace, &table.name)
                .await?
                .is_some() =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn progress(
    handle: &QueryHandle,
    source: &StreamSource,
    batch: &SourceBatch,
    batch_id: i64,
    outcome: &Committed,
    started_ms: i64,
    durations: Durations,
    since_last_ms: u64,
) -> QueryProgress {
    let def = &handle.definition;
    let input_rate = rate(batch.input_rows, since_last_ms);
    let processed_rate = rate(batch.input_rows, durations.trigger_execution);
    let mut metrics: std::collections::BTreeMap<String, String> = batch
        .lag
        .iter()
        .map(|(k, v)| (format!("lag.{k}"), v.to_string()))
        .collect();
    metrics.insert(
        "totalLag".to_string(),
        batch.lag.values().sum::<i64>().to_string(),
    );
    QueryProgress {
        id: def.id.clone(),
        run_id: handle.run_id.clone(),
        name: def.name.clone(),
        timestamp: timestamp(started_ms),
        batch_id,
        num_input_rows: batch.input_rows,
        input_rows_per_second: input_rate,
        processed_rows_per_second: processed_rate,
        num_dead_letter_rows: outcome.dead_letters,
        duration_ms: durations,
        sources: vec![SourceProgress {
            description: source.description(),
            start_offset: Some(batch.start.clone()),
            end_offset: batch.end.clone(),
            latest_offset: batch.latest.clone(),
            num_input_rows: batch.input_rows,
            input_rows_per_second: input_rate,
            processed_rows_per_second: processed_rate,
            metrics,
        }],
        sink: SinkProgress {
            description: format!("IcebergTable[{}]", def.target),
            num_output_rows: outcome.rows,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso_8601_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
