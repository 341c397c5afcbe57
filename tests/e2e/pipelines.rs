//! Pipelines submitted as jobs: the streamify demo pipeline end to end (its silver
//! and gold tables checked by DuckDB over the bronze tables read with pyiceberg, and
//! a second run changing nothing), streams over another table's appends with
//! expectations, continuous mode and kill, and broken pipelines (cycles, dangling
//! names, a dataset that does not plan or fails an expectation) failing with the
//! dataset named and nothing half-written.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::catalog::{run_python, script};
use crate::cluster::{TestCluster, binary, first_int64, get_json, http, sql};
use crate::lakehouse::scratch_catalog;
use crate::streaming::streaming_cluster;

fn master(cluster: &TestCluster) -> String {
    format!("http://127.0.0.1:{}", cluster.http_port)
}

/// `sparkling submit SPEC --wait` with `conf`.
fn submit_wait(cluster: &TestCluster, spec: &Path, conf: &[&str]) -> Output {
    let mut command = std::process::Command::new(binary());
    command
        .args(["submit", "--master", &master(cluster)])
        .arg(spec)
        .arg("--wait");
    for kv in conf {
        command.args(["--conf", kv]);
    }
    command.output().unwrap()
}

/// The newest job's record.
fn last_job(cluster: &TestCluster) -> Value {
    let jobs = get_json(cluster, "/api/v1/submissions", &[]);
    jobs.as_array().unwrap().last().cloned().unwrap()
}

fn dataset<'a>(job: &'a Value, name: &str) -> &'a Value {
    job["pipeline"]["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no dataset {name} in {job}"))
}

fn expectation(dataset: &Value, name: &str) -> (u64, u64) {
    let e = dataset["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no expectation {name} in {dataset}"));
    (e["passed"].as_u64().unwrap(), e["failed"].as_u64().unwrap())
}

fn streamify_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/streamify/spark-pipeline.yml")
}

/// Smaller event counts than the demo's, for a debug build.
const SMALL: &[&str] = &[
    "listen.count=6000",
    "page_view.count=9000",
    "auth.count=600",
    "listen.rate=0.05",
    "page_view.rate=0.08",
    "auth.rate=0.005",
];

async fn count(cluster: &TestCluster, table: &str) -> i64 {
    let spark = cluster.session().await;
    first_int64(
        &sql(&spark, cluster, &format!("SELECT count(*) FROM {table}")).await,
        0,
    )
}

async fn snapshots(cluster: &TestCluster, table: &str) -> i64 {
    count(cluster, &format!("{table}.snapshots")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streamify_pipeline_matches_an_independent_computation() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let out = submit_wait(&cluster, &streamify_spec(), SMALL);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{}", cluster.logs());
    // Progress names each dataset with what it wrote.
    assert!(
        stderr.contains("streamify.gold_top_songs_daily (materialized view): COMPLETED")
            && stderr
                .contains("streamify.bronze_listen_events (streaming table): COMPLETED (6000 rows"),
        "{stderr}"
    );
    // ... once each.
    assert_eq!(
        stderr
            .matches("streamify.gold_top_songs_daily (materialized view): COMPLETED")
            .count(),
        1,
        "{stderr}"
    );
    let job = last_job(&cluster);
    assert_eq!(job["state"], "FINISHED", "{job}");
    assert_eq!(job["name"], "streamify");
    let datasets = job["pipeline"]["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 11);
    assert!(datasets.iter().all(|d| d["state"] == "COMPLETED"), "{job}");
    // Each dataset ran after the ones it reads.
    let position = |name: &str| datasets.iter().position(|d| d["name"] == name).unwrap();
    assert!(
        position("streamify.bronze_page_view_events")
            < position("streamify.silver_page_view_events")
    );
    assert!(
        position("streamify.silver_page_view_events") < position("streamify.silver_user_sessions")
    );
    assert!(
        position("streamify.silver_user_sessions")
            < position("streamify.gold_sessions_per_user_daily")
    );

    let check = script("streamify_check.py");
    let summary: Value = serde_json::from_str(&run_python(
        &[check.to_str().unwrap(), &catalog.uri, "streamify"],
        &catalog,
    ))
    .unwrap();
    assert_eq!(summary["bronze"]["bronze_listen_events"], 6000, "{summary}");
    assert_eq!(
        summary["bronze"]["bronze_page_view_events"], 9000,
        "{summary}"
    );
    assert_eq!(summary["bronze"]["bronze_auth_events"], 600, "{summary}");
    assert!(summary["days"].as_u64().unwrap() >= 2, "{summary}");
    assert!(
        summary["gold_top_songs_daily"].as_u64().unwrap() >= 20,
        "{summary}"
    );
    // The warn-only expectations counted what DuckDB counts.
    let served = expectation(dataset(&job, "streamify.silver_page_view_events"), "served");
    assert_eq!(served.1, summary["violations"]["served"].as_u64().unwrap());
    assert!(served.1 > 0, "some page views are not 200s");
    assert_eq!(served.0 + served.1, 9000);
    let full_play = expectation(dataset(&job, "streamify.silver_listen_events"), "full_play");
    assert_eq!(
        full_play.1,
        summary["violations"]["full_play"].as_u64().unwrap()
    );
    let succeeded = expectation(dataset(&job, "streamify.silver_auth_events"), "succeeded");
    assert_eq!(
        succeeded.1,
        summary["violations"]["succeeded"].as_u64().unwrap()
    );

    // Running it again changes no table's rows: the streams have nothing new, the
    // views are recomputed to the same rows.
    let gold_before = count(&cluster, "streamify.gold_sessions_per_user_daily").await;
    let bronze_snapshots = snapshots(&cluster, "streamify.bronze_listen_events").await;
    let out = submit_wait(&cluster, &streamify_spec(), SMALL);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Value = serde_json::from_str(&run_python(
        &[check.to_str().unwrap(), &catalog.uri, "streamify"],
        &catalog,
    ))
    .unwrap();
    assert_eq!(again, summary);
    assert_eq!(
        count(&cluster, "streamify.gold_sessions_per_user_daily").await,
        gold_before
    );
    assert_eq!(
        snapshots(&cluster, "streamify.bronze_listen_events").await,
        bronze_snapshots,
        "a second update with nothing new commits nothing to a stream's table"
    );
    let job = last_job(&cluster);
    assert_eq!(
        dataset(&job, "streamify.bronze_listen_events")["rowsWritten"],
        0
    );
}

/// Writes a pipeline (spec plus SQL files) under `dir`; returns the spec's path.
fn pipeline(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("sql")).unwrap();
    let spec = root.join("spark-pipeline.yml");
    std::fs::write(
        &spec,
        format!(
            "name: {name}\ndatabase: {name}\nconfiguration:\n  events: 500\nlibraries:\n  - \
             glob:\n      include: sql/*.sql\n"
        ),
    )
    .unwrap();
    for (file, sql) in files {
        std::fs::write(root.join("sql").join(file), sql).unwrap();
    }
    spec
}

const BRONZE: &str = "CREATE STREAMING TABLE bronze AS SELECT ts, \"userId\" AS user_id, \
                      \"itemInSession\" AS item FROM STREAM(generate_events(kind => 'listen', \
                      count => ${events}, rate => 1000, start => 0, users => 20));";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_over_table_appends_check_expectations_per_update() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spec = pipeline(
        dir.path(),
        "appends",
        &[
            ("bronze.sql", BRONZE),
            (
                "clean.sql",
                "CREATE STREAMING TABLE clean (\n  CONSTRAINT early_item EXPECT (item < 10) ON \
                 VIOLATION DROP ROW,\n  CONSTRAINT even_user EXPECT (user_id % 2 = 0)\n) AS \
                 SELECT ts, user_id, item FROM STREAM(bronze);\n\
                 CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n FROM clean \
                 GROUP BY user_id;",
            ),
        ],
    );
    let out = submit_wait(&cluster, &spec, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    let spark = cluster.session().await;
    let expected = first_int64(
        &sql(
            &spark,
            &cluster,
            "SELECT count(*) FROM appends.bronze WHERE item < 10",
        )
        .await,
        0,
    );
    assert!(expected > 0 && expected < 500, "{expected}");
    assert_eq!(count(&cluster, "appends.clean").await, expected);
    let job = last_job(&cluster);
    let clean = dataset(&job, "appends.clean");
    assert_eq!(
        expectation(clean, "early_item"),
        (expected as u64, 500 - expected as u64)
    );
    let odd = first_int64(
        &sql(
            &spark,
            &cluster,
            "SELECT count(*) FROM appends.bronze WHERE user_id % 2 <> 0",
        )
        .await,
        0,
    );
    assert_eq!(expectation(clean, "even_user").1, odd as u64);
    assert_eq!(clean["rowsWritten"], expected);
    assert_eq!(
        first_int64(
            &sql(&spark, &cluster, "SELECT sum(n) FROM appends.per_user").await,
            0
        ),
        expected
    );

    // A bigger generator: the next update reads only what is new, at both hops.
    let out = submit_wait(&cluster, &spec, &["events=800"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&cluster, "appends.bronze").await, 800);
    let expected = first_int64(
        &sql(
            &spark,
            &cluster,
            "SELECT count(*) FROM appends.bronze WHERE item < 10",
        )
        .await,
        0,
    );
    assert_eq!(count(&cluster, "appends.clean").await, expected);
    let job = last_job(&cluster);
    let (passed, failed) = expectation(dataset(&job, "appends.clean"), "early_item");
    assert_eq!(
        passed + failed,
        300,
        "the second update saw the 300 new rows only"
    );
    assert_eq!(
        first_int64(
            &sql(&spark, &cluster, "SELECT sum(n) FROM appends.per_user").await,
            0
        ),
        expected
    );
    // The view's refresh is one overwrite snapshot carrying its update's id.
    let ops = sql(
        &spark,
        &cluster,
        "SELECT operation, summary['sparkling.pipeline-update'] FROM appends.per_user.snapshots \
         ORDER BY committed_at",
    )
    .await;
    let text = arrow::util::pretty::pretty_format_batches(&ops)
        .unwrap()
        .to_string();
    assert!(
        text.contains("overwrite") && text.contains(job["id"].as_str().unwrap()),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_pipelines_fail_naming_the_dataset_and_write_nothing() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let run = |spec: &Path| {
        let out = submit_wait(&cluster, spec, &[]);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    // A cycle is refused when submitted.
    let spec = pipeline(
        dir.path(),
        "cyclic",
        &[(
            "a.sql",
            "CREATE MATERIALIZED VIEW a AS SELECT * FROM b;\nCREATE MATERIALIZED VIEW b AS \
             SELECT * FROM a;",
        )],
    );
    let (code, output) = run(&spec);
    assert_ne!(code, Some(0));
    assert!(
        output.contains("cycle: cyclic.a -> cyclic.b -> cyclic.a"),
        "{output}"
    );
    // A name that is nothing: the job fails before any dataset runs.
    let spec = pipeline(
        dir.path(),
        "dangling",
        &[
            ("bronze.sql", BRONZE),
            (
                "v.sql",
                "CREATE MATERIALIZED VIEW v AS SELECT * FROM nowhere.missing;",
            ),
        ],
    );
    let (code, output) = run(&spec);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("dataset dangling.v reads nowhere.missing, which is neither a dataset"),
        "{output}"
    );
    // A query that does not plan, in the last dataset: nothing runs.
    let spec = pipeline(
        dir.path(),
        "badsql",
        &[
            ("bronze.sql", BRONZE),
            (
                "v.sql",
                "CREATE MATERIALIZED VIEW v AS SELECT no_such_column FROM bronze;",
            ),
        ],
    );
    let (code, output) = run(&spec);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("sql/v.sql:1: dataset badsql.v does not plan")
            && output.contains("no_such_column"),
        "{output}"
    );
    let spark = cluster.session().await;
    let tables = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'badsql'",
    )
    .await;
    assert_eq!(
        first_int64(&tables, 0),
        0,
        "no dataset of the pipeline was created"
    );
    // An expectation that fails the update: the datasets before it are written, the
    // failing one gets nothing, the one after it is skipped.
    let spec = pipeline(
        dir.path(),
        "strict",
        &[
            ("bronze.sql", BRONZE),
            (
                "v.sql",
                "CREATE MATERIALIZED VIEW checked (CONSTRAINT small EXPECT (item < 5) ON \
                 VIOLATION FAIL UPDATE) AS SELECT * FROM bronze;\n\
                 CREATE MATERIALIZED VIEW after AS SELECT count(*) AS n FROM checked;",
            ),
        ],
    );
    let (code, output) = run(&spec);
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("dataset strict.checked failed")
            && output.contains("expectation small (item < 5) failed on"),
        "{output}"
    );
    assert_eq!(count(&cluster, "strict.bronze").await, 500);
    assert_eq!(count(&cluster, "strict.checked").await, 0);
    assert_eq!(snapshots(&cluster, "strict.checked").await, 0);
    let job = last_job(&cluster);
    assert_eq!(dataset(&job, "strict.checked")["state"], "FAILED");
    assert_eq!(dataset(&job, "strict.after")["state"], "SKIPPED");
    // Malformed specs and bundles are refused with the reason.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "name: x\nlibraries: [{glob: {include: '*.sql'}}]\nfrobnicate: 1\n",
    )
    .unwrap();
    let (code, output) = run(&bad);
    assert_ne!(code, Some(0));
    assert!(output.contains("unknown field `frobnicate`"), "{output}");
    let request = json!({
        "action": "CreateSubmissionRequest",
        "appResource": "p.yml",
        "appContent": "{\"spec\": 1}",
        "sparkProperties": {},
    });
    let (status, body) = http(
        &format!("127.0.0.1:{}", cluster.http_port),
        "POST",
        "/v1/submissions/create",
        &request.to_string(),
        &[],
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid pipeline bundle"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuous_pipeline_refreshes_until_killed() {
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let spec = pipeline(
        dir.path(),
        "live",
        &[(
            "a.sql",
            "CREATE STREAMING TABLE events AS SELECT ts, \"userId\" AS user_id FROM \
             STREAM(generate_events(kind => 'auth', rate => 200));\n\
             CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n FROM events;",
        )],
    );
    let out = std::process::Command::new(binary())
        .args(["submit", "--master", &master(&cluster)])
        .arg(&spec)
        .args([
            "--conf",
            "spark.sparkling.pipeline.continuous=true",
            "--conf",
            "spark.sparkling.pipeline.refreshInterval=1 second",
            "--conf",
            "spark.sparkling.streaming.trigger=500 ms",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // The view keeps being refreshed with the stream's new rows.
    let spark = cluster.session().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut totals = Vec::new();
    loop {
        let job = get_json(&cluster, &format!("/api/v1/submissions/{id}"), &[]);
        // Submitted until its driver starts, then running until killed.
        assert!(
            job["state"] == "RUNNING" || job["state"] == "SUBMITTED",
            "{job}\n{}",
            cluster.logs()
        );
        if job["pipeline"]["updates"].as_u64().unwrap_or(0) >= 1 {
            let n = first_int64(&sql(&spark, &cluster, "SELECT n FROM live.total").await, 0);
            if totals.last() != Some(&n) {
                totals.push(n);
            }
            if totals.len() >= 3 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the view did not keep refreshing: {totals:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(totals.windows(2).all(|w| w[0] < w[1]), "{totals:?}");
    let out = std::process::Command::new(binary())
        .args(["kill", "--master", &master(&cluster), &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = get_json(&cluster, &format!("/api/v1/submissions/{id}"), &[]);
        if job["state"] == "KILLED" {
            let query = dataset(&job, "live.events")["queryId"]
                .as_str()
                .unwrap()
                .to_string();
            let stream = get_json(&cluster, &format!("/api/v1/streams/{query}"), &[]);
            assert_ne!(stream["state"], "ACTIVE", "{stream}");
            break;
        }
        assert!(Instant::now() < deadline, "not killed: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The stream stopped: the table stops growing.
    let before = count(&cluster, "live.events").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(count(&cluster, "live.events").await, before);
}

/// An OpenLineage HTTP endpoint: collects the JSON bodies POSTed to it.
fn lineage_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&events);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let sink = std::sync::Arc::clone(&sink);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    assert!(
                        request_line.starts_with("POST /api/v1/lineage "),
                        "{request_line}"
                    );
                    sink.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (url, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_pipeline_updates_emit_openlineage_events() {
    let (dir, catalog) = scratch_catalog();
    let (url, events) = lineage_receiver();
    let cluster =
        TestCluster::start_with(2, 1, &["--catalog", &catalog.uri, "--lineage", &url]).await;
    let spec = pipeline(
        dir.path(),
        "lin",
        &[(
            "a.sql",
            &format!(
                "{BRONZE}\nCREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n \
                 FROM bronze GROUP BY user_id;"
            ),
        )],
    );
    let out = submit_wait(&cluster, &spec, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = dir.path().join("broken.sql");
    std::fs::write(
        &script,
        "CREATE TABLE lin.copy AS SELECT * FROM lin.per_user;\nSELECT * FROM lin.nothing;",
    )
    .unwrap();
    let out = submit_wait(&cluster, &script, &[]);
    assert_eq!(out.status.code(), Some(1));
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = events.lock().unwrap().clone();
        if events.iter().filter(|e| e["eventType"] == "FAIL").count() >= 1 {
            break events;
        }
        assert!(Instant::now() < deadline, "events so far: {events:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let of =
        |job: &str| -> Vec<&Value> { events.iter().filter(|e| e["job"]["name"] == job).collect() };
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    // The pipeline's job: START then COMPLETE, writing both datasets.
    let job = of("lin");
    assert_eq!(job.len(), 2, "{events:#?}");
    assert_eq!(
        (job[0]["eventType"].as_str(), job[1]["eventType"].as_str()),
        (Some("START"), Some("COMPLETE"))
    );
    assert_eq!(names(&job[1]["outputs"]), ["lin.bronze", "lin.per_user"]);
    assert_eq!(names(&job[1]["inputs"]), ["generate_events/listen"]);
    let run = job[0]["run"]["runId"].as_str().unwrap();
    assert_eq!(job[1]["run"]["runId"], run);
    // Each dataset's run is a child of the job's, with its own inputs.
    let view = of("lin.lin.per_user");
    assert_eq!(view.len(), 2, "{events:#?}");
    assert_eq!(view[1]["eventType"], "COMPLETE");
    assert_eq!(view[1]["run"]["facets"]["parent"]["run"]["runId"], run);
    assert_eq!(names(&view[1]["inputs"]), ["lin.bronze"]);
    assert_eq!(
        view[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"].as_u64(),
        Some(20)
    );
    assert!(
        view[1]["inputs"][0]["namespace"]
            .as_str()
            .unwrap()
            .starts_with("iceberg+http://")
    );
    let bronze = of("lin.lin.bronze");
    assert_eq!(
        bronze[1]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"],
        500
    );
    // The failing script: START, then FAIL with the error, reading per_user and
    // writing copy.
    let script = of("broken");
    assert_eq!(script.len(), 2, "{events:#?}");
    assert_eq!(script[1]["eventType"], "FAIL");
    assert!(
        script[1]["run"]["facets"]["errorMessage"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing"),
        "{:#}",
        script[1]
    );
    assert_eq!(names(&script[1]["outputs"]), ["lin.copy"]);
    assert!(names(&script[1]["inputs"]).contains(&"lin.per_user".to_string()));
}

/// Copies `examples/streamify` under `dir`, with the Kafka spec's datasets in
/// namespace `namespace`; returns the copied Kafka spec.
fn streamify_copy(dir: &Path, namespace: &str) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    let target = dir.join("streamify");
    copy(streamify_spec().parent().unwrap(), &target);
    let spec = target.join("spark-pipeline-kafka.yml");
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("database: streamify\n"));
    std::fs::write(
        &spec,
        text.replace("database: streamify\n", &format!("database: {namespace}\n")),
    )
    .unwrap();
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streamify_pipeline_reads_the_same_events_from_kafka() {
    let Some(bootstrap) = crate::kafka::bootstrap() else {
        return;
    };
    // The same events as the generator pipeline's (same kinds, counts, rates, seed,
    // users and start), written to Kafka as JSON.
    let mut conf: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
    conf.push(format!("kafka.bootstrap={bootstrap}"));
    for (kind, count, rate) in [
        ("listen", "6000", "0.05"),
        ("page_view", "9000", "0.08"),
        ("auth", "600", "0.005"),
    ] {
        let topic = crate::kafka::create_topic(&bootstrap, kind, 3).await;
        let out = std::process::Command::new(binary())
            .args(["gen", "kafka", "--bootstrap", &bootstrap, "--topic", &topic])
            .args(["--kind", kind, "--count", count, "--rate", rate])
            .args(["--seed", "7", "--users", "300", "--start", "1767225600000"])
            .arg("--no-wait")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        conf.push(format!("kafka.topic.{kind}={topic}"));
    }
    let (dir, catalog) = scratch_catalog();
    let cluster = streaming_cluster(&catalog, &dir.path().join("state")).await;
    let out = submit_wait(&cluster, &streamify_spec(), SMALL);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kafka_spec = streamify_copy(dir.path(), "streamify_kafka");
    let conf: Vec<&str> = conf.iter().map(String::as_str).collect();
    let out = submit_wait(&cluster, &kafka_spec, &conf);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    assert_eq!(
        count(&cluster, "streamify_kafka.bronze_listen_events").await,
        6000
    );
    let spark = cluster.session().await;
    for gold in [
        "gold_top_songs_daily",
        "gold_top_artists_daily",
        "gold_active_users_daily",
        "gold_sessions_per_user_daily",
    ] {
        let rows = count(&cluster, &format!("streamify.{gold}")).await;
        assert!(rows > 0, "{gold} is empty");
        assert_eq!(
            count(&cluster, &format!("streamify_kafka.{gold}")).await,
            rows,
            "{gold}"
        );
        for (a, b) in [
            ("streamify", "streamify_kafka"),
            ("streamify_kafka", "streamify"),
        ] {
            let differing = first_int64(
                &sql(
                    &spark,
                    &cluster,
                    &format!(
                        "SELECT count(*) FROM (SELECT * FROM {a}.{gold} EXCEPT SELECT * FROM \
                         {b}.{gold})"
                    ),
                )
                .await,
                0,
            );
            assert_eq!(differing, 0, "{gold}: rows of {a} missing from {b}");
        }
    }
}
