//! Streaming queries end to end: a real Kafka-protocol broker (tansu), a catalog
//! process, a scheduler that keeps its queries under a state directory and executor
//! processes; tables checked with pyiceberg. Queries survive SIGKILLs of the
//! scheduler and of executors with every event landing exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray};
use rdkafka::producer::FutureRecord;
use sparkling_client::SparkSession;
use sparkling_client::streaming::Trigger;

use crate::catalog::{CatalogProcess, run_python};
use crate::cluster::{TestCluster, binary, first_int64, sql};
use crate::kafka::{bootstrap, create_topic, producer};
use crate::lakehouse::scratch_catalog;

/// A cluster of two executors over `catalog`, keeping streaming queries in `state`.
pub async fn streaming_cluster(catalog: &CatalogProcess, state: &std::path::Path) -> TestCluster {
    TestCluster::start_with(
        2,
        2,
        &[
            "--catalog",
            &catalog.uri,
            "--state-dir",
            state.to_str().unwrap(),
        ],
    )
    .await
}

/// `SELECT count(*) FROM table`, or why it could not be counted (the gateway is
/// restarting, the table is not there yet).
async fn count(cluster: &TestCluster, table: &str) -> Result<i64, String> {
    let spark = SparkSession::connect(&cluster.url())
        .await
        .map_err(|e| e.to_string())?;
    let result = spark
        .run_sql(&format!("SELECT count(*) FROM {table}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(first_int64(&result.batches, 0))
}

/// Waits until `table` holds at least `rows` rows; fails with the logs after `limit`.
async fn wait_for_rows(cluster: &TestCluster, table: &str, rows: i64, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let counted = count(cluster, table).await;
        if let Ok(n) = counted
            && n >= rows
        {
            return n;
        }
        if Instant::now() > deadline {
            let streams = match SparkSession::connect(&cluster.url()).await {
                Ok(s) => format!("{:?}", s.run_sql("SHOW STREAMS").await.map(|r| r.batches)),
                Err(e) => e.to_string(),
            };
            panic!(
                "{table} did not reach {rows} rows within {limit:?} ({counted:?}); streams: \
                 {streams}\n{}",
                cluster.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Produces `count` listen events as JSON with `sparkling gen kafka` (one record per
/// record batch, as tansu needs; see `kafka::producer`).
fn generate_into(bootstrap: &str, topic: &str, count: u64) -> Child {
    Command::new(binary())
        .args(["gen", "kafka", "--bootstrap", bootstrap, "--topic", topic])
        .args([
            "--kind",
            "listen",
            "--count",
            &count.to_string(),
            "--no-wait",
        ])
        .args(["--producer-conf", "batch.num.messages=1"])
        .args(["--producer-conf", "linger.ms=0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sparkling gen kafka")
}

/// pyiceberg's view of a streaming table with `ts`, `kafka_partition` and
/// `kafka_offset` columns: rows, distinct events, distinct (partition, offset),
/// snapshots with a batch id, distinct batch ids, and the offsets the last snapshot
/// recorded, summed.
fn pyiceberg_stream_view(catalog: &CatalogProcess, table: &str) -> String {
    let snippet = format!(
        "import json\n\
         from pyiceberg.catalog import load_catalog\n\
         t = load_catalog('c', type='rest', uri='{}').load_table('{table}')\n\
         rows = t.scan().to_arrow()\n\
         pairs = set(zip(rows.column('kafka_partition').to_pylist(), rows.column('kafka_offset').to_pylist()))\n\
         batches = [s.summary.additional_properties.get('sparkling.batch-id') for s in t.snapshots()]\n\
         batches = [int(b) for b in batches if b is not None]\n\
         offsets = json.loads(t.current_snapshot().summary.additional_properties['sparkling.offsets'])\n\
         print(rows.num_rows, len(set(rows.column('ts').to_pylist())), len(pairs), len(batches), \
               len(set(batches)), sum(sum(p.values()) for p in offsets.values()))",
        catalog.uri
    );
    run_python(&["-c", &snippet], catalog).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_stream_lands_exactly_once_through_scheduler_and_executor_kills() {
    let Some(bootstrap) = bootstrap() else { return };
    const EVENTS: i64 = 100_000;
    let topic = create_topic(&bootstrap, "listens", 3).await;
    let (dir, catalog) = scratch_catalog();
    let state = dir.path().join("scheduler-state");
    let mut cluster = streaming_cluster(&catalog, &state).await;
    let mut generator = generate_into(&bootstrap, &topic, EVENTS as u64);

    let spark = cluster.session().await;
    sql(&spark, &cluster, "CREATE NAMESPACE bronze").await;
    let started = sql(
        &spark,
        &cluster,
        &format!(
            "CREATE STREAMING TABLE bronze.listens PARTITIONED BY (level) AS \
             SELECT e.ts AS ts, e.\"userId\" AS user_id, e.song AS song, e.level AS level, \
                    partition AS kafka_partition, \"offset\" AS kafka_offset \
             FROM (SELECT from_json(CAST(value AS STRING), \
                                    'ts BIGINT, `userId` BIGINT, song STRING, level STRING') AS e, \
                          partition, \"offset\" \
                   FROM STREAM(read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}', \
                                          startingOffsets => 'earliest', \
                                          maxOffsetsPerTrigger => 3000)))"
        ),
    )
    .await;
    let ids = started[0]
        .column_by_name("query_id")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone();
    let query_id = ids.value(0).to_string();
    let table = "bronze.listens";

    // Kill the scheduler three times while batches are being written; each time it
    // comes back it resumes the query from the table's last snapshot.
    let mut seen = 0;
    for round in 0..3 {
        seen = wait_for_rows(&cluster, table, seen + 1, Duration::from_secs(120)).await;
        tokio::time::sleep(Duration::from_millis(150 * round)).await;
        eprintln!("killing the scheduler with {seen}+ rows in {table}");
        cluster.kill_scheduler();
        cluster.start_scheduler_again();
        cluster.wait_for_executors(2).await;
    }
    // And an executor, mid-stream; a replacement joins.
    seen = wait_for_rows(&cluster, table, seen + 1, Duration::from_secs(120)).await;
    eprintln!("killing an executor with {seen}+ rows in {table}");
    let mut victim = cluster.executors.remove(0);
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let replacement = cluster.spawn_executor(50, 2);
    cluster.executors.push(replacement);
    wait_for_rows(&cluster, table, seen + 1, Duration::from_secs(120)).await;

    let produced = generator.wait().unwrap();
    assert!(produced.success(), "sparkling gen kafka failed");
    wait_for_rows(&cluster, table, EVENTS, Duration::from_secs(300)).await;

    let view = pyiceberg_stream_view(&catalog, table);
    let fields: Vec<i64> = view
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(fields[0], EVENTS, "rows: {view}\n{}", cluster.logs());
    assert_eq!(fields[1], EVENTS, "distinct events: {view}");
    assert_eq!(fields[2], EVENTS, "distinct (partition, offset): {view}");
    assert_eq!(fields[3], fields[4], "a batch id committed twice: {view}");
    assert!(fields[3] >= EVENTS / 3000, "batches: {view}");
    assert_eq!(fields[5], EVENTS, "the last snapshot's offsets: {view}");

    // The query is still running, and stops on request (for good).
    let spark = cluster.session().await;
    let query = spark.streams().get(&query_id).await.unwrap();
    assert!(query.status().await.unwrap().is_active);
    let progress = query.recent_progress().await.unwrap();
    assert!(!progress.is_empty(), "no progress after the last restart");
    assert_eq!(progress[0]["id"], query_id.as_str());
    query.stop().await.unwrap();
    assert!(!query.status().await.unwrap().is_active);
    let streams = sql(&spark, &cluster, "SHOW STREAMS").await;
    let states = streams[0]
        .column_by_name("state")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone();
    assert_eq!(states.value(0), "STOPPED");
    // A stopped query stays stopped when the scheduler restarts.
    cluster.kill_scheduler();
    cluster.start_scheduler_again();
    cluster.wait_for_executors(2).await;
    let spark = cluster.session().await;
    assert!(spark.streams().active().await.unwrap().is_empty());
}

/// Produces records with ids `from..to` as JSON `{"id": i}`, record `i` to partition
/// `i % partitions`.
async fn produce_ids(bootstrap: &str, topic: &str, partitions: i64, from: i64, to: i64) {
    let producer = producer(bootstrap);
    let sends = (from..to).map(|i| {
        let producer = &producer;
        async move {
            let value = format!(r#"{{"id": {i}}}"#);
            producer
                .send(
                    FutureRecord::<(), _>::to(topic)
                        .payload(&value)
                        .partition((i % partitions) as i32),
                    Duration::from_secs(30),
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("producing {i}: {e}"));
        }
    });
    futures::future::join_all(sends).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn available_now_twice_reads_each_event_once() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "available-now", 2).await;
    produce_ids(&bootstrap, &topic, 2, 0, 500).await;
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spark = cluster.session().await;
    let define = format!(
        "CREATE OR REFRESH STREAMING TABLE numbers AS \
         SELECT from_json(CAST(value AS STRING), 'id BIGINT')['id'] AS id, partition, \"offset\" \
         FROM STREAM(read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}', \
                                startingOffsets => 'earliest', maxOffsetsPerTrigger => 120))"
    );
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.trigger = 'availableNow'",
    )
    .await;
    // The statement returns when everything there was read.
    sql(&spark, &cluster, &define).await;
    let totals = "SELECT count(*), count(DISTINCT id), sum(id) FROM numbers";
    let result = sql(&spark, &cluster, totals).await;
    assert_eq!(first_int64(&result, 0), 500);
    assert_eq!(first_int64(&result, 1), 500);
    // 500 offsets at most 120 per batch: 5 batches, 5 snapshots.
    let snapshots = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM default.numbers.snapshots",
    )
    .await;
    assert_eq!(first_int64(&snapshots, 0), 5);

    // More events; the same definition again reads only those.
    produce_ids(&bootstrap, &topic, 2, 500, 800).await;
    sql(&spark, &cluster, &define).await;
    let result = sql(&spark, &cluster, totals).await;
    assert_eq!(first_int64(&result, 0), 800);
    assert_eq!(first_int64(&result, 1), 800);
    assert_eq!(first_int64(&result, 2), (0..800).sum::<i64>());
    // Nothing new: no new snapshot.
    sql(&spark, &cluster, &define).await;
    let snapshots = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM default.numbers.snapshots",
    )
    .await;
    assert_eq!(first_int64(&snapshots, 0), 8);

    // The SDK's writeStream into an existing table with INSERT semantics, trigger
    // once: one batch of everything, then the query ends.
    sql(&spark, &cluster, "CREATE TABLE copies (id BIGINT)").await;
    let query = spark
        .read_stream()
        .format("kafka")
        .option("kafka.bootstrap.servers", &bootstrap)
        .option("subscribe", &topic)
        .option("startingOffsets", "earliest")
        .load()
        .unwrap()
        .select_expr(&["from_json(CAST(value AS STRING), 'id BIGINT')['id'] AS id"])
        .filter("id % 2 = 0")
        .write_stream()
        .to_table("copies")
        .trigger(Trigger::Once)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert!(
        query
            .await_termination(Some(Duration::from_secs(120)))
            .await
            .unwrap()
    );
    let result = sql(&spark, &cluster, "SELECT count(*), sum(id) FROM copies").await;
    assert_eq!(first_int64(&result, 0), 400);
    assert_eq!(
        first_int64(&result, 1),
        (0..800).filter(|i| i % 2 == 0).sum::<i64>()
    );
    let progress = query
        .last_progress()
        .await
        .unwrap()
        .expect("a progress report");
    assert_eq!(progress["numInputRows"], 800);
    assert_eq!(progress["sink"]["numOutputRows"], 400);
    assert_eq!(progress["batchId"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_go_to_the_dead_letter_table_and_the_query_keeps_running() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "dirty", 2).await;
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spark = cluster.session().await;
    let producer = producer(&bootstrap);
    // Every fifth record is bad: broken JSON, a string for a number, a number out of
    // INT's range, and a 200 KB value that is not JSON at all.
    let oversized = "x".repeat(200_000);
    let value = |i: i64| match i % 20 {
        3 => "{\"id\": 3, \"user\":".to_string(),
        8 => format!("{{\"id\": \"eight-{i}\", \"user\": \"u\"}}"),
        13 => format!("{{\"id\": {}, \"user\": \"u\"}}", 10_000_000_000i64 + i),
        18 => oversized.clone(),
        _ => format!("{{\"id\": {i}, \"user\": \"u{}\"}}", i % 3),
    };
    let produce = |from: i64, to: i64| {
        let producer = &producer;
        let topic = &topic;
        let value = &value;
        async move {
            for i in from..to {
                let v = value(i);
                producer
                    .send(
                        FutureRecord::<(), _>::to(topic)
                            .payload(&v)
                            .partition((i % 2) as i32),
                        Duration::from_secs(30),
                    )
                    .await
                    .unwrap_or_else(|(e, _)| panic!("producing: {e}"));
            }
        }
    };
    produce(0, 100).await;
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.trigger = '200 ms'",
    )
    .await;
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.deadLetterTable = 'default.bad_events'",
    )
    .await;
    sql(
        &spark,
        &cluster,
        &format!(
            "CREATE STREAMING TABLE events AS \
             SELECT e.id AS id, e.user AS user_name, e._corrupt_record AS _corrupt_record \
             FROM (SELECT from_json(CAST(value AS STRING), \
                                    'id INT, user STRING, _corrupt_record STRING') AS e \
                   FROM STREAM(read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}', \
                                          startingOffsets => 'earliest')))"
        ),
    )
    .await;
    wait_for_rows(&cluster, "events", 80, Duration::from_secs(120)).await;
    wait_for_rows(&cluster, "bad_events", 20, Duration::from_secs(60)).await;
    // The query goes on with what comes next.
    produce(100, 200).await;
    wait_for_rows(&cluster, "events", 160, Duration::from_secs(120)).await;
    wait_for_rows(&cluster, "bad_events", 40, Duration::from_secs(60)).await;

    let good = sql(&spark, &cluster, "SELECT count(*), sum(id) FROM events").await;
    assert_eq!(first_int64(&good, 0), 160);
    let expected: i64 = (0..200)
        .filter(|i| ![3, 8, 13, 18].contains(&(i % 20)))
        .sum();
    assert_eq!(first_int64(&good, 1), expected);
    // The good table has no _corrupt_record column; the dead letters keep the text.
    let columns = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'events'",
    )
    .await;
    assert_eq!(first_int64(&columns, 0), 2);
    let bad = sql(
        &spark,
        &cluster,
        "SELECT count(*), count(*) FILTER (WHERE length(_corrupt_record) = 200000), \
                count(*) FILTER (WHERE id IS NULL) FROM bad_events",
    )
    .await;
    assert_eq!(first_int64(&bad, 0), 40);
    assert_eq!(first_int64(&bad, 1), 10);
    assert_eq!(first_int64(&bad, 2), 40);

    let streams = sql(&spark, &cluster, "SHOW STREAMS").await;
    let state = streams[0]
        .column_by_name("state")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    assert_eq!(state, "ACTIVE");
    let query = &spark.streams().active().await.unwrap()[0];
    let dead: i64 = query
        .recent_progress()
        .await
        .unwrap()
        .iter()
        .map(|p| p["numDeadLetterRows"].as_i64().unwrap())
        .sum();
    assert_eq!(dead, 40);
    query.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_events_stream_without_a_broker() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spark = cluster.session().await;
    // One event every 20 s from 2026-01-01: 5000 events span two days, all in the past.
    let args = "kind => 'listen', rate => 0.05, count => 5000, seed => 7, \
                start => 1767225600000, maxEventsPerTrigger => 2000";
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.trigger = 'availableNow'",
    )
    .await;
    // The bronze layer of the streamify seed: an event id hashed from its fields, and
    // a date to partition by.
    sql(
        &spark,
        &cluster,
        &format!(
            "CREATE STREAMING TABLE listens PARTITIONED BY (event_date) AS \
             SELECT sha2(concat_ws('|', \"userId\", \"sessionId\", ts), 256) AS event_id, \
                    to_date(from_unixtime(ts / 1000)) AS event_date, * \
             FROM STREAM(generate_events({args}))"
        ),
    )
    .await;
    let summary = "count(*), sum(\"userId\"), count(DISTINCT ts)";
    let streamed = sql(&spark, &cluster, &format!("SELECT {summary} FROM listens")).await;
    let batch_args = args.replace(", maxEventsPerTrigger => 2000", "");
    let direct = sql(
        &spark,
        &cluster,
        &format!("SELECT {summary} FROM generate_events({batch_args})"),
    )
    .await;
    for column in 0..3 {
        assert_eq!(first_int64(&streamed, column), first_int64(&direct, column));
    }
    assert_eq!(first_int64(&streamed, 0), 5000);
    let derived = sql(
        &spark,
        &cluster,
        "SELECT count(DISTINCT event_id), count(DISTINCT event_date) FROM listens",
    )
    .await;
    assert_eq!(first_int64(&derived, 0), 5000);
    assert_eq!(first_int64(&derived, 1), 2);
    let snapshots = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM default.listens.snapshots",
    )
    .await;
    assert_eq!(first_int64(&snapshots, 0), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_mistakes_get_clear_errors() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spark = cluster.session().await;
    let events = "generate_events(kind => 'auth', rate => 100, start => 0, count => 10)";
    let expect_error = |query: String, needle: &'static str| {
        let spark = &spark;
        async move {
            let e = spark.run_sql(&query).await.expect_err(&query).to_string();
            assert!(e.contains(needle), "{query}: {e}");
        }
    };
    // A stream is read by streaming queries only.
    expect_error(
        format!("SELECT count(*) FROM STREAM({events})"),
        "streaming queries only",
    )
    .await;
    expect_error(
        "CREATE STREAMING TABLE t AS SELECT 1 AS x".to_string(),
        "reads none",
    )
    .await;
    // A stream over a table needs the table.
    expect_error(
        "SELECT * FROM STREAM(some_table)".to_string(),
        "table default.some_table does not exist",
    )
    .await;
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.trigger = sometimes",
    )
    .await;
    expect_error(
        format!("CREATE STREAMING TABLE t AS SELECT * FROM STREAM({events})"),
        "invalid trigger",
    )
    .await;
    // A query whose rows do not fit its table stops with the reason.
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.trigger = 'availableNow'",
    )
    .await;
    sql(&spark, &cluster, "CREATE TABLE narrow (ts BIGINT)").await;
    expect_error(
        format!("INSERT INTO narrow SELECT ts, \"userId\" FROM STREAM({events})"),
        "but table default.narrow has 1",
    )
    .await;
    let streams = sql(&spark, &cluster, "SHOW STREAMS").await;
    let error = streams[0]
        .column_by_name("error")
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .clone();
    assert!(!error.is_null(0) && error.value(0).contains("narrow"));
    // The command line shows the same.
    let out = Command::new(binary())
        .args(["streams", "--remote", &cluster.url()])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listing}");
    assert!(
        listing.contains("default.narrow") && listing.contains("FAILED"),
        "{listing}"
    );
}

/// Needs the scheduler's test-only fault switch (`--features fault-injection`, as
/// `scripts/test.sh` builds).
#[cfg(feature = "fault-injection")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_dead_letter_and_target_commits_loses_and_repeats_nothing() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "crash-between", 2).await;
    // Every fifth record is not JSON.
    let producer = producer(&bootstrap);
    for i in 0..100i64 {
        let value = if i % 5 == 0 {
            format!("not json {i}")
        } else {
            format!("{{\"id\": {i}}}")
        };
        producer
            .send(
                FutureRecord::<(), _>::to(&topic)
                    .payload(&value)
                    .partition((i % 2) as i32),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing: {e}"));
    }
    let (dir, catalog) = scratch_catalog();
    let state = dir.path().join("state");
    let mut cluster = TestCluster::start_with_env(
        2,
        1,
        &[
            "--catalog",
            &catalog.uri,
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[(
            "SPARKLING_FAULT_EXIT_AFTER_DEAD_LETTERS".to_string(),
            "0".to_string(),
        )],
    )
    .await;
    let spark = cluster.session().await;
    sql(
        &spark,
        &cluster,
        "SET spark.sparkling.streaming.deadLetterTable = 'bad'",
    )
    .await;
    // The statement starts the query; the scheduler dies in its first batch.
    let _ = spark
        .run_sql(&format!(
            "CREATE STREAMING TABLE good AS \
             SELECT e.id AS id, e._corrupt_record AS _corrupt_record \
             FROM (SELECT from_json(CAST(value AS STRING), 'id BIGINT, _corrupt_record STRING') AS e \
                   FROM STREAM(read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}', \
                                          startingOffsets => 'earliest')))"
        ))
        .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = cluster.scheduler.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler did not exit\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status.code(), Some(86), "{}", cluster.logs());
    // More records arrive while it is down; then it comes back without the fault.
    produce_ids(&bootstrap, &topic, 2, 100, 150).await;
    cluster.set_env(&[]);
    cluster.start_scheduler_again();
    cluster.wait_for_executors(2).await;
    wait_for_rows(&cluster, "good", 130, Duration::from_secs(120)).await;
    let spark = cluster.session().await;
    let good = sql(
        &spark,
        &cluster,
        "SELECT count(*), count(DISTINCT id) FROM good",
    )
    .await;
    assert_eq!(first_int64(&good, 0), 130);
    assert_eq!(first_int64(&good, 1), 130);
    let bad = sql(&spark, &cluster, "SELECT count(*) FROM bad").await;
    assert_eq!(first_int64(&bad, 0), 20, "dead letters written once");
    // Batch 0 of the target is the replay: exactly the offsets the dead letters had.
    let offsets = "SELECT summary['sparkling.offsets'] FROM default.{}.snapshots \
                   WHERE summary['sparkling.batch-id'] = '0'";
    let of = |table: &str| {
        let query = offsets.replace("{}", table);
        let (spark, cluster) = (&spark, &cluster);
        async move {
            let batches = sql(spark, cluster, &query).await;
            arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(of("good").await, of("bad").await);
    assert!(
        of("good").await.contains("\"0\":50"),
        "{}",
        of("good").await
    );
}
