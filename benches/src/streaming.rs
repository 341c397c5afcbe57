//! The streaming ingest benchmark: JSON listen events in a Kafka-protocol broker
//! (tansu, started by `scripts/bench.sh`) written by streaming queries on
//! `sparkling local` into partitioned Iceberg tables, against raw librdkafka consume
//! throughput from the same broker.
//!
//! - **Raw consume**: one librdkafka consumer reads the backlog topic from the start
//!   (the physical bound: no parsing, no writing).
//! - **Catch-up**: an available-now query drains the same backlog into a table.
//! - **Sustained**: for each trigger interval, `sparkling gen kafka` produces at half
//!   the raw consume rate (the goal; or at 90% of its own speed if it cannot go that
//!   fast) while a processing-time query writes the topic into a table. Measured: the
//!   mean rate from the first event produced to the last one visible, how long the
//!   query took to catch up after the producer stopped, and freshness: per event, the
//!   time from its Kafka timestamp (set when produced) to the commit of the snapshot
//!   that made it visible, both read back from the table.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int32Type, Int64Type, TimeUnit};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use sparkling_benches::report::{Latency, LiveIngest, StreamingBench};
use sparkling_client::SparkSession;

/// Partitions of every benchmark topic.
const PARTITIONS: i32 = 3;

/// How big the benchmark is.
pub struct Sizes {
    /// Events in the backlog topic.
    pub backlog: u64,
    /// Seconds the producer runs in each sustained run.
    pub live_seconds: u64,
    /// Trigger intervals of the sustained runs, seconds.
    pub triggers: Vec<u64>,
}

/// Runs the whole streaming benchmark against `bootstrap` with the cluster at `spark`.
pub async fn run(
    spark: &SparkSession,
    sparkling: &Path,
    bootstrap: &str,
    sizes: &Sizes,
) -> anyhow::Result<StreamingBench> {
    spark
        .run_sql("CREATE NAMESPACE IF NOT EXISTS bench")
        .await?;
    let backlog = create_topic(bootstrap, "bench-backlog").await?;
    let produce = produce(sparkling, bootstrap, &backlog, sizes.backlog, None)?;
    let produce_rate = sizes.backlog as f64 / produce.as_secs_f64();
    eprintln!("produced {} events at {produce_rate:.0}/s", sizes.backlog);

    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..2 {
        let (took, b) = raw_consume(bootstrap, &backlog, sizes.backlog)?;
        eprintln!("raw consume: {} events in {took:?}", sizes.backlog);
        best = best.min(took);
        bytes = b;
    }
    let raw_rate = sizes.backlog as f64 / best.as_secs_f64();

    spark
        .run_sql("SET spark.sparkling.streaming.trigger = 'availableNow'")
        .await?;
    let t = Instant::now();
    spark
        .run_sql(&bronze_table("bench.catch_up", bootstrap, &backlog))
        .await
        .context("the available-now query over the backlog")?;
    let catch_up = t.elapsed();
    let rows = count(spark, "bench.catch_up").await?;
    if rows != sizes.backlog {
        bail!(
            "the catch-up table has {rows} rows, the topic {}",
            sizes.backlog
        );
    }
    let catch_up_rate = rows as f64 / catch_up.as_secs_f64();
    eprintln!("catch-up: {rows} events in {catch_up:?} ({catch_up_rate:.0}/s)");

    // Half the raw rate is the goal; the producer may not reach it.
    let target_rate = (raw_rate * 0.5).min(produce_rate * 0.9).floor();
    let mut live = Vec::new();
    for &trigger in &sizes.triggers {
        live.push(sustained(spark, sparkling, bootstrap, trigger, target_rate, sizes).await?);
    }
    Ok(StreamingBench {
        partitions: PARTITIONS,
        backlog: sizes.backlog,
        avg_record_bytes: bytes as f64 / sizes.backlog as f64,
        produce_rate,
        raw_consume_rate: raw_rate,
        catch_up_rate,
        live,
    })
}

/// One sustained run at `trigger` seconds with the producer at `rate` events/s.
async fn sustained(
    spark: &SparkSession,
    sparkling: &Path,
    bootstrap: &str,
    trigger: u64,
    rate: f64,
    sizes: &Sizes,
) -> anyhow::Result<LiveIngest> {
    let topic = create_topic(bootstrap, &format!("bench-live-{trigger}s")).await?;
    let table = format!("bench.live_{trigger}s");
    spark
        .run_sql(&format!(
            "SET spark.sparkling.streaming.trigger = '{trigger} seconds'"
        ))
        .await?;
    let started = spark
        .run_sql(&bronze_table(&table, bootstrap, &topic))
        .await?;
    let id = started
        .batches
        .first()
        .and_then(|b| b.column_by_name("query_id"))
        .context("CREATE STREAMING TABLE returned no query id")?
        .as_string::<i32>()
        .value(0)
        .to_string();
    let query = spark.streams().get(&id).await?;
    let total = (rate * sizes.live_seconds as f64) as u64;
    eprintln!("sustained, trigger {trigger} s: producing {total} events at {rate:.0}/s");
    produce(sparkling, bootstrap, &topic, total, Some(rate))?;
    let produced_until = epoch_ms();
    // Wait for the query to commit everything produced.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let committed = match query.last_progress().await? {
            Some(p) => p["sources"][0]["endOffset"]
                .as_str()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
                .map(|v| sum_numbers(&v))
                .unwrap_or(0),
            None => 0,
        };
        if committed >= total {
            break;
        }
        if !query.status().await?.is_active {
            bail!(
                "the query over {topic} ended: {:?}",
                query.exception().await?
            );
        }
        if Instant::now() > deadline {
            bail!("the query over {topic} committed {committed} of {total} events in 300 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    query.stop().await?;
    let commits = snapshot_ends(spark, &table).await?;
    let arrivals = event_times(spark, &table).await?;
    if arrivals.len() as u64 != total {
        bail!("{table} has {} rows, {total} were produced", arrivals.len());
    }
    let mut freshness = Vec::with_capacity(arrivals.len());
    for (partition, offset, produced_ms) in &arrivals {
        let visible = commits
            .iter()
            .find(|(_, ends)| ends.get(partition).is_some_and(|end| end > offset))
            .map(|(at, _)| *at)
            .with_context(|| format!("no snapshot of {table} covers {partition}/{offset}"))?;
        freshness.push(Duration::from_millis((visible - produced_ms).max(0) as u64));
    }
    let freshness = Latency::from_samples("produced -> visible", &mut freshness);
    // From the first event produced to the last one visible.
    let first_produced = arrivals.iter().map(|a| a.2).min().unwrap_or(0);
    let last_commit = commits.last().map(|c| c.0).unwrap_or(0);
    let ingest_rate = total as f64 / ((last_commit - first_produced).max(1) as f64 / 1000.0);
    let catch_up_seconds = (last_commit - produced_until).max(0) as f64 / 1000.0;
    eprintln!(
        "sustained, trigger {trigger} s: {} commits, {ingest_rate:.0} events/s, caught up \
         {catch_up_seconds:.1} s after the producer stopped, freshness p50 {:.0} ms p99 {:.0} ms",
        commits.len(),
        freshness.p50_ms,
        freshness.p99_ms
    );
    Ok(LiveIngest {
        trigger_seconds: trigger,
        seconds: sizes.live_seconds,
        target_rate: rate,
        events: total,
        commits: commits.len(),
        ingest_rate,
        catch_up_seconds,
        freshness_p50_ms: freshness.p50_ms,
        freshness_p99_ms: freshness.p99_ms,
    })
}

/// The streaming table statement: the streamify seed's bronze layer over `topic`.
fn bronze_table(table: &str, bootstrap: &str, topic: &str) -> String {
    format!(
        "CREATE STREAMING TABLE {table} PARTITIONED BY (event_date) AS \
         SELECT sha2(concat_ws('|', e.\"userId\", e.\"sessionId\", e.ts), 256) AS event_id, \
                to_date(from_unixtime(e.ts / 1000)) AS event_date, \
                e.ts AS ts, e.\"userId\" AS user_id, e.\"sessionId\" AS session_id, \
                e.artist AS artist, e.song AS song, e.duration AS duration, e.level AS level, \
                e.city AS city, e.state AS state, e.\"userAgent\" AS user_agent, \
                partition AS kafka_partition, \"offset\" AS kafka_offset, \
                timestamp AS kafka_timestamp \
         FROM (SELECT from_json(CAST(value AS STRING), \
                 'artist STRING, song STRING, duration DOUBLE, ts BIGINT, `sessionId` BIGINT, \
                  level STRING, city STRING, state STRING, `userAgent` STRING, `userId` BIGINT') AS e, \
                 partition, \"offset\", timestamp \
               FROM STREAM(read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}', \
                                      startingOffsets => 'earliest')))"
    )
}

/// Creates a topic with a unique name.
async fn create_topic(bootstrap: &str, prefix: &str) -> anyhow::Result<String> {
    let name = format!("{prefix}-{}", std::process::id());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let results = admin
        .create_topics(
            &[NewTopic::new(&name, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await?;
    for r in results {
        r.map_err(|(topic, e)| anyhow::anyhow!("creating {topic}: {e}"))?;
    }
    Ok(name)
}

/// `sparkling gen kafka`: `count` listen events, as fast as it can or at `rate`, in
/// librdkafka's default record batches. (tansu 0.6 serves a fetch from the first
/// record batch that starts at or after the requested offset; the queries here read
/// from the start and end their micro-batches where the log ended when they were
/// planned, always a record-batch boundary, and the row counts are checked.)
fn produce(
    sparkling: &Path,
    bootstrap: &str,
    topic: &str,
    count: u64,
    rate: Option<f64>,
) -> anyhow::Result<Duration> {
    let mut cmd = Command::new(sparkling);
    cmd.args(["gen", "kafka", "--bootstrap", bootstrap, "--topic", topic])
        .args(["--kind", "listen", "--count", &count.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    match rate {
        Some(rate) => cmd.args(["--rate", &rate.to_string()]),
        None => cmd.arg("--no-wait"),
    };
    let t = Instant::now();
    let status = cmd.status().context("running sparkling gen kafka")?;
    if !status.success() {
        bail!("sparkling gen kafka failed: {status}");
    }
    Ok(t.elapsed())
}

/// Reads `expected` records of `topic` from the start with one librdkafka consumer;
/// returns the time it took and the payload bytes.
fn raw_consume(bootstrap: &str, topic: &str, expected: u64) -> anyhow::Result<(Duration, u64)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "sparkling-bench-raw")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    while records < expected {
        match consumer.poll(Duration::from_secs(30)) {
            Some(Ok(m)) => {
                records += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => bail!("consuming {topic}: {e}"),
            None => bail!("no records from {topic} for 30 s after {records}"),
        }
    }
    Ok((started.elapsed(), bytes))
}

async fn count(spark: &SparkSession, table: &str) -> anyhow::Result<u64> {
    let result = spark
        .run_sql(&format!("SELECT count(*) FROM {table}"))
        .await?;
    Ok(result.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0) as u64)
}

/// The table's snapshots in commit order: commit time (epoch ms) and the end offset
/// per partition that the snapshot's `sparkling.offsets` recorded.
async fn snapshot_ends(
    spark: &SparkSession,
    table: &str,
) -> anyhow::Result<Vec<(i64, BTreeMap<i32, i64>)>> {
    let result = spark
        .run_sql(&format!(
            "SELECT CAST(committed_at AS BIGINT) AS at, summary FROM {table}.snapshots ORDER BY at"
        ))
        .await?;
    let mut commits = Vec::new();
    for batch in &result.batches {
        let at = batch.column(0).as_primitive::<Int64Type>();
        let summaries = batch.column(1).as_map();
        for row in 0..batch.num_rows() {
            let entries = summaries.value(row);
            let keys = entries.column(0).as_string::<i32>();
            let values = entries.column(1).as_string::<i32>();
            let Some(offsets) = (0..keys.len())
                .find(|&i| keys.value(i) == "sparkling.offsets")
                .map(|i| values.value(i))
            else {
                continue;
            };
            let json: serde_json::Value = serde_json::from_str(offsets)?;
            let mut ends = BTreeMap::new();
            for partitions in json.as_object().into_iter().flat_map(|o| o.values()) {
                for (p, end) in partitions.as_object().into_iter().flatten() {
                    ends.insert(p.parse()?, end.as_i64().unwrap_or(0));
                }
            }
            commits.push((at.value(row), ends));
        }
    }
    if commits.is_empty() {
        bail!("{table} has no streaming snapshots");
    }
    Ok(commits)
}

/// Every row's Kafka partition, offset and timestamp (epoch ms).
async fn event_times(spark: &SparkSession, table: &str) -> anyhow::Result<Vec<(i32, i64, i64)>> {
    let result = spark
        .run_sql(&format!(
            "SELECT kafka_partition, kafka_offset, kafka_timestamp FROM {table}"
        ))
        .await?;
    let mut rows = Vec::new();
    for batch in &result.batches {
        rows.extend(arrival_rows(batch)?);
    }
    Ok(rows)
}

fn arrival_rows(batch: &RecordBatch) -> anyhow::Result<Vec<(i32, i64, i64)>> {
    let partitions = batch.column(0).as_primitive::<Int32Type>();
    let offsets = batch.column(1).as_primitive::<Int64Type>();
    let ms = arrow::compute::cast(
        batch.column(2),
        &DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
    )?;
    let ms = arrow::compute::cast(&ms, &DataType::Int64)?;
    let ms = ms.as_primitive::<Int64Type>();
    Ok((0..batch.num_rows())
        .map(|i| (partitions.value(i), offsets.value(i), ms.value(i)))
        .collect())
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The sum of every number in a JSON value (offsets per topic and partition).
fn sum_numbers(v: &serde_json::Value) -> u64 {
    match v {
        serde_json::Value::Number(n) => n.as_u64().unwrap_or(0),
        serde_json::Value::Object(o) => o.values().map(sum_numbers).sum(),
        serde_json::Value::Array(a) => a.iter().map(sum_numbers).sum(),
        _ => 0,
    }
}
