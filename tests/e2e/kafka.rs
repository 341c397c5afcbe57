//! Kafka as a source: a real Kafka-protocol broker (tansu, started by scripts/test.sh),
//! records produced with librdkafka, and `read_kafka(...)` reading them on the
//! executors with Spark's options and record schema.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::cluster::{TestCluster, explain, first_int64};

/// The test broker's address, or `None` (test skipped) outside scripts/test.sh.
pub fn bootstrap() -> Option<String> {
    match std::env::var("SPARKLING_TEST_KAFKA_BOOTSTRAP") {
        Ok(servers) => Some(servers),
        Err(_) => {
            assert!(
                std::env::var("SPARKLING_TEST_REQUIRE_SERVICES").is_err(),
                "SPARKLING_TEST_KAFKA_BOOTSTRAP is not set"
            );
            eprintln!(
                "skipped: SPARKLING_TEST_KAFKA_BOOTSTRAP is not set (scripts/test.sh sets it)"
            );
            None
        }
    }
}

/// Creates a topic with a unique name and `partitions` partitions.
pub async fn create_topic(bootstrap: &str, prefix: &str, partitions: i32) -> String {
    let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(&name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .expect("create topic");
    for r in results {
        r.unwrap_or_else(|(topic, e)| panic!("creating {topic}: {e}"));
    }
    name
}

/// A producer for the test broker. Each record is its own record batch: tansu 0.6
/// serves a fetch from the first batch that *starts* at or after the requested offset,
/// so a read starting inside a multi-record batch would miss that batch's tail (Kafka
/// serves the batch that contains the offset).
pub fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

/// Produces `n` records `{"id": i, "user": "u<i % 7>"}` with key `i`, record `i` to
/// partition `i % partitions`; every tenth record carries a `source` header.
pub async fn produce_numbered(bootstrap: &str, topic: &str, partitions: i32, n: i64) {
    let producer = producer(bootstrap);
    let sends = (0..n).map(|i| {
        let producer = &producer;
        async move {
            let key = i.to_string();
            let value = format!(r#"{{"id": {i}, "user": "u{}"}}"#, i % 7);
            let mut record = FutureRecord::to(topic)
                .key(&key)
                .payload(&value)
                .partition((i % partitions as i64) as i32);
            if i % 10 == 0 {
                record = record.headers(OwnedHeaders::new().insert(Header {
                    key: "source",
                    value: Some("test"),
                }));
            }
            producer
                .send(record, Duration::from_secs(30))
                .await
                .unwrap_or_else(|(e, _)| panic!("producing record {i}: {e}"));
        }
    });
    futures::future::join_all(sends).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_kafka_reads_topics_on_the_executors() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "numbers", 3).await;
    produce_numbered(&bootstrap, &topic, 3, 3000).await;

    let cluster = TestCluster::start(2, 2).await;
    let spark = cluster.session().await;
    let source = |extra: &str| {
        format!("read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}'{extra})")
    };
    let sql = |query: String| {
        let (spark, cluster) = (&spark, &cluster);
        async move { crate::cluster::sql(spark, cluster, &query).await }
    };

    // Every record once, with Spark's columns.
    let all = sql(format!(
        "SELECT count(*), count(DISTINCT partition), min(offset), max(offset), \
                sum(CAST(CAST(key AS STRING) AS BIGINT)), \
                count(*) FILTER (WHERE timestampType = 0 AND timestamp IS NOT NULL) \
         FROM {}",
        source("")
    ))
    .await;
    assert_eq!(first_int64(&all, 0), 3000);
    assert_eq!(first_int64(&all, 1), 3);
    assert_eq!(first_int64(&all, 2), 0);
    assert_eq!(first_int64(&all, 3), 999);
    assert_eq!(first_int64(&all, 4), 2999 * 3000 / 2);
    assert_eq!(first_int64(&all, 5), 3000);

    // The values are the JSON that was produced.
    let users = sql(format!(
        "SELECT count(*) FROM {} WHERE CAST(value AS STRING) LIKE '%\"user\": \"u3\"%'",
        source("")
    ))
    .await;
    assert_eq!(
        first_int64(&users, 0),
        (0..3000).filter(|i| i % 7 == 3).count() as i64
    );

    // One task per partition, on the executors; minPartitions splits them further.
    let query = format!("SELECT count(*) FROM {}", source(""));
    let plan = explain(&spark, &query).await;
    assert!(plan.contains("distributed job on the executors"), "{plan}");
    assert!(
        plan.contains("KafkaScanExec: ranges=3, offsets=3000"),
        "{plan}"
    );
    let query = format!("SELECT count(*) FROM {}", source(", minPartitions => '7'"));
    let plan = explain(&spark, &query).await;
    // 7 tasks over 3 equal partitions: each is cut in 3.
    assert!(plan.contains("ranges=9, offsets=3000"), "{plan}");
    assert_eq!(first_int64(&sql(query).await, 0), 3000);

    // A LIMIT reads no more than it needs from each partition.
    let query = format!("SELECT key FROM {} LIMIT 5", source(""));
    let plan = explain(&spark, &query).await;
    assert!(plan.contains("ranges=3, offsets=3000, limit=5"), "{plan}");
    let five = sql(query).await;
    assert_eq!(five.iter().map(|b| b.num_rows()).sum::<usize>(), 5);

    // Starting and ending offsets, as JSON per partition (-2 earliest, -1 latest).
    let bounded = source(&format!(
        r#", startingOffsets => '{{"{topic}":{{"0":500,"1":-2}}}}', endingOffsets => '{{"{topic}":{{"0":600,"1":-1,"2":-1}}}}'"#
    ));
    let counted = sql(format!("SELECT count(*) FROM {bounded}")).await;
    assert_eq!(first_int64(&counted, 0), 100 + 1000 + 1000);
    let latest = sql(format!(
        "SELECT count(*) FROM {}",
        source(", startingOffsets => 'latest'")
    ))
    .await;
    assert_eq!(first_int64(&latest, 0), 0);

    // assign picks partitions; includeHeaders adds the headers column.
    let assigned = sql(format!(
        "SELECT count(*), min(partition), max(partition) FROM read_kafka(\
         bootstrapServers => '{bootstrap}', assign => '{{\"{topic}\":[1]}}')"
    ))
    .await;
    assert_eq!(first_int64(&assigned, 0), 1000);
    let with_headers = sql(format!(
        "SELECT count(*) FROM {} WHERE cardinality(headers) = 1",
        source(", includeHeaders => 'true'")
    ))
    .await;
    assert_eq!(first_int64(&with_headers, 0), 300);

    // Bad options and unknown topics are clear errors; the cluster keeps serving.
    for (query, expected) in [
        (
            format!("SELECT * FROM read_kafka(bootstrapServers => '{bootstrap}')"),
            "exactly one of",
        ),
        (
            format!(
                "SELECT * FROM read_kafka(bootstrapServers => '{bootstrap}', subscribe => 'no-such-topic')"
            ),
            "'no-such-topic' does not exist",
        ),
        (
            format!("SELECT * FROM {}", source(", startingOffsets => 'soon'")),
            "startingOffsets",
        ),
        (
            format!("SELECT * FROM {}", source(", colour => 'red'")),
            "unknown Kafka option 'colour'",
        ),
    ] {
        let err = spark.run_sql(&query).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{query}: {err}");
    }
    assert_eq!(first_int64(&sql("SELECT 1 + 1".into()).await, 0), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_json_parses_kafka_values_and_keeps_malformed_ones() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "events", 2).await;
    let producer = producer(&bootstrap);
    let values: Vec<String> = (0..200)
        .map(|i| match i % 10 {
            3 => "{not json".to_string(),
            7 => format!(r#"{{"id": "seven-{i}", "user": "u"}}"#),
            _ => format!(r#"{{"id": {i}, "user": "u{}"}}"#, i % 4),
        })
        .collect();
    for (i, value) in values.iter().enumerate() {
        producer
            .send(
                FutureRecord::<(), _>::to(&topic)
                    .payload(value)
                    .partition((i % 2) as i32),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing: {e}"));
    }
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;
    let query = format!(
        "SELECT count(*) FILTER (WHERE e.id IS NOT NULL), \
                count(*) FILTER (WHERE e._corrupt_record IS NOT NULL), \
                sum(e.id), count(DISTINCT e.user) \
         FROM (SELECT from_json(CAST(value AS STRING), \
                                'id BIGINT, user STRING, _corrupt_record STRING') AS e \
               FROM read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}'))"
    );
    let result = spark
        .run_sql(&query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}\n{}", cluster.logs()))
        .batches;
    let good: Vec<i64> = (0..200).filter(|i| i % 10 != 3 && i % 10 != 7).collect();
    assert_eq!(first_int64(&result, 0), good.len() as i64);
    assert_eq!(
        first_int64(&result, 1),
        40,
        "malformed JSON and wrong types"
    );
    assert_eq!(first_int64(&result, 2), good.iter().sum::<i64>());
    assert_eq!(first_int64(&result, 3), 4);

    // to_json writes a struct back as JSON (null fields left out).
    let round_trip = format!(
        "SELECT count(*) FILTER (WHERE j = '{{\"id\":0,\"user\":\"u0\"}}'), \
                count(*) FILTER (WHERE j = '{{\"user\":\"u\"}}'), \
                count(*) FILTER (WHERE j = '{{}}') \
         FROM (SELECT to_json(from_json(CAST(value AS STRING), 'id BIGINT, user STRING')) AS j \
               FROM read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}'))"
    );
    let result = spark
        .run_sql(&round_trip)
        .await
        .unwrap_or_else(|e| panic!("{round_trip}: {e}\n{}", cluster.logs()))
        .batches;
    assert_eq!(first_int64(&result, 0), 1);
    assert_eq!(first_int64(&result, 1), 0, "a mistyped record is all nulls");
    assert_eq!(
        first_int64(&result, 2),
        40,
        "malformed and mistyped records give {{}}"
    );

    // FAILFAST stops at the first malformed record, naming it.
    let failfast = format!(
        "SELECT count(from_json(CAST(value AS STRING), 'id BIGINT', map('mode', 'FAILFAST'))) \
         FROM read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}')"
    );
    let err = spark.run_sql(&failfast).await.unwrap_err().to_string();
    assert!(err.contains("malformed record"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_events_through_kafka_equal_the_generator_table() {
    let Some(bootstrap) = bootstrap() else { return };
    let topic = create_topic(&bootstrap, "page-views", 3).await;
    let out = std::process::Command::new(crate::cluster::binary())
        .args(["gen", "kafka", "--bootstrap", &bootstrap, "--topic", &topic])
        .args([
            "--kind",
            "page_view",
            "--count",
            "2000",
            "--seed",
            "3",
            "--no-wait",
        ])
        .args(["--start", "1767225600000"])
        // One record per batch, for tansu (see `producer`).
        .args([
            "--producer-conf",
            "batch.num.messages=1",
            "--producer-conf",
            "linger.ms=0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;
    let summary = "count(*), sum(\"userId\"), count(DISTINCT \"sessionId\"), \
                   count(*) FILTER (WHERE page = 'NextSong'), min(ts), max(ts)";
    let generated = spark
        .run_sql(&format!(
            "SELECT {summary} FROM generate_events(kind => 'page_view', count => 2000, seed => 3)"
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()))
        .batches;
    let fields = "ts BIGINT, \"sessionId\" BIGINT, page STRING, \"userId\" BIGINT";
    let from_kafka = spark
        .run_sql(&format!(
            "SELECT {summary} FROM (SELECT e.ts AS ts, e.\"sessionId\" AS \"sessionId\", \
                    e.page AS page, e.\"userId\" AS \"userId\" \
             FROM (SELECT from_json(CAST(value AS STRING), '{}') AS e \
                   FROM read_kafka(bootstrapServers => '{bootstrap}', subscribe => '{topic}')))",
            fields.replace('"', "`")
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()))
        .batches;
    for column in 0..6 {
        assert_eq!(
            first_int64(&generated, column),
            first_int64(&from_kafka, column),
            "column {column}"
        );
    }
    assert_eq!(first_int64(&generated, 0), 2000);
    assert_eq!(first_int64(&generated, 4), 1_767_225_600_000);
    // 10 events per second by default: the last one 199.9 s after the first.
    assert_eq!(first_int64(&generated, 5), 1_767_225_600_000 + 199_900);

    let plan = explain(
        &spark,
        "SELECT count(*) FROM generate_events(kind => 'listen', count => 100000)",
    )
    .await;
    assert!(plan.contains("distributed job on the executors"), "{plan}");
    assert!(
        plan.contains("EventsExec: kind=Listen, events=0..100000"),
        "{plan}"
    );
}

/// The streamify seed's bronze transforms over generated events: an event id as the
/// SHA-256 of user|session|ts, the event time and date from epoch milliseconds,
/// timestamp arithmetic and casts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_transforms_run_over_generated_events() {
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;
    let query = "SELECT count(*), count(DISTINCT event_id), CAST(min(length(event_id)) AS BIGINT), \
                        count(*) FILTER (WHERE event_date = DATE '2026-01-01'), \
                        count(*) FILTER (WHERE event_date = DATE '2026-01-02'), \
                        count(*) FILTER (WHERE later - event_time = INTERVAL '1' HOUR), \
                        count(*) FILTER (WHERE CAST(ts_text AS BIGINT) = ts) \
                 FROM (SELECT sha2(concat_ws('|', \"userId\", \"sessionId\", ts), 256) AS event_id, \
                              from_unixtime(ts / 1000) AS event_time, \
                              to_date(from_unixtime(ts / 1000)) AS event_date, \
                              from_unixtime(ts / 1000) + INTERVAL '1' HOUR AS later, \
                              CAST(ts AS STRING) AS ts_text, ts \
                       FROM generate_events(kind => 'auth', count => 2000000, rate => 20))";
    let result = spark
        .run_sql(query)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()))
        .batches;
    assert_eq!(first_int64(&result, 0), 2_000_000);
    assert_eq!(first_int64(&result, 1), 2_000_000, "event ids are unique");
    assert_eq!(first_int64(&result, 2), 64, "hex SHA-256");
    // 20 events a second: 1,728,000 on the first day, the rest on the second.
    assert_eq!(first_int64(&result, 3), 1_728_000);
    assert_eq!(first_int64(&result, 4), 272_000);
    assert_eq!(first_int64(&result, 5), 2_000_000);
    assert_eq!(first_int64(&result, 6), 2_000_000);
}
