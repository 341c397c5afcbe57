//! Jobs submitted over REST as spark-submit submits them to a standalone master,
//! driven with a plain HTTP client and with `sparkling submit | status | kill | jobs`:
//! SQL scripts that finish, fail and are killed, a streaming job, a scheduler restart
//! in the middle, and bad requests; and `/metrics` and the JSON API while a streaming
//! job runs.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{TestCluster, binary, first_int64, get_json, http, sql};
use crate::lakehouse::scratch_catalog;

/// A cluster of two executors over `catalog` keeping its state in `state`, with
/// extra scheduler flags.
async fn cluster_with_state(
    catalog: &crate::catalog::CatalogProcess,
    state: &std::path::Path,
    extra: &[&str],
) -> TestCluster {
    let mut args = vec![
        "--catalog",
        &catalog.uri,
        "--state-dir",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    TestCluster::start_with(2, 1, &args).await
}

fn addr(cluster: &TestCluster) -> String {
    format!("127.0.0.1:{}", cluster.http_port)
}

/// POSTs a `CreateSubmissionRequest` for `script`; returns the answer.
fn submit(cluster: &TestCluster, name: &str, script: &str, conf: Value) -> (u16, Value) {
    let request = json!({
        "action": "CreateSubmissionRequest",
        "appResource": format!("{name}.sql"),
        "appContent": script,
        "appArgs": [],
        "sparkProperties": conf,
        "environmentVariables": {},
        "clientSparkVersion": "4.0.0",
    });
    let (status, body) = http(
        &addr(cluster),
        "POST",
        "/v1/submissions/create",
        &request.to_string(),
        &[],
    );
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}
fn status_of(cluster: &TestCluster, id: &str) -> Value {
    get_json(cluster, &format!("/v1/submissions/status/{id}"), &[])
}

fn job(cluster: &TestCluster, id: &str) -> Value {
    get_json(cluster, &format!("/api/v1/submissions/{id}"), &[])
}

/// Waits until the job's state is one of `states`; returns the status answer.
async fn wait_for_state(cluster: &TestCluster, id: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let status = status_of(cluster, id);
        if states.contains(&status["driverState"].as_str().unwrap_or("")) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not reach {states:?}: {status}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `/metrics` once it has a line starting with `prefix`.
async fn wait_for_metric(cluster: &TestCluster, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = http(&addr(cluster), "GET", "/metrics", "", &[]);
        assert_eq!(status, 200, "{body}");
        if body.lines().any(|l| l.starts_with(prefix)) {
            return body;
        }
        assert!(Instant::now() < deadline, "no {prefix} in\n{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_script_runs_to_the_end() {
    let (dir, catalog) = scratch_catalog();
    let cluster = cluster_with_state(&catalog, &dir.path().join("state"), &[]).await;
    let script = "-- a job as spark-submit would run it\n\
                  CREATE TABLE orders (id BIGINT, amount DOUBLE);\n\
                  INSERT INTO orders SELECT id, id * 1.5 FROM range(100);\n\
                  SET spark.sql.shuffle.partitions = 3;\n\
                  CREATE TABLE totals AS SELECT id % 4 AS bucket, sum(amount) AS total \
                  FROM orders GROUP BY id % 4;\n\
                  SELECT * FROM totals;";
    let (status, created) = submit(
        &cluster,
        "orders",
        script,
        json!({"spark.app.name": "orders job"}),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["action"], "CreateSubmissionResponse");
    assert_eq!(created["success"], true);
    let id = created["submissionId"].as_str().unwrap().to_string();
    assert!(id.starts_with("driver-") && id.len() == "driver-20261130134507-0000".len());

    let status = wait_for_state(&cluster, &id, &["FINISHED", "FAILED"]).await;
    assert_eq!(status["driverState"], "FINISHED", "{status}");
    assert_eq!(status["action"], "SubmissionStatusResponse");
    let detail = job(&cluster, &id);
    assert_eq!(detail["name"], "orders job");
    let statements = detail["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 5);
    assert_eq!(statements[0]["line"], 2);
    assert!(
        statements.iter().all(|s| s["state"] == "FINISHED"),
        "{detail}"
    );
    assert_eq!(statements[4]["rows"], 4);

    let spark = cluster.session().await;
    let total = sql(&spark, &cluster, "SELECT count(*) FROM totals").await;
    assert_eq!(first_int64(&total, 0), 4);

    // The command line sees the same.
    let master = format!("http://{}", addr(&cluster));
    let out = std::process::Command::new(binary())
        .args(["status", "--master", &master, &id])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("FINISHED"));
    let out = std::process::Command::new(binary())
        .args(["jobs", "--master", &master])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(&id) && listing.contains("orders job") && listing.contains("5/5"),
        "{listing}"
    );
    // Killing a finished job changes nothing.
    let (code, body) = http(
        &addr(&cluster),
        "POST",
        &format!("/v1/submissions/kill/{id}"),
        "",
        &[],
    );
    assert_eq!(code, 200);
    assert!(
        body.contains("\"success\":false") && body.contains("already ended"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_fails_the_job_and_says_which() {
    let (dir, catalog) = scratch_catalog();
    let cluster = cluster_with_state(&catalog, &dir.path().join("state"), &[]).await;
    let script = "CREATE TABLE kept (x INT);\n\
                  INSERT INTO kept VALUES (1);\n\
                  SELECT no_such_column FROM kept;\n\
                  INSERT INTO kept VALUES (2);";
    let (_, created) = submit(&cluster, "failing", script, json!({}));
    let id = created["submissionId"].as_str().unwrap().to_string();
    let status = wait_for_state(&cluster, &id, &["FINISHED", "FAILED"]).await;
    assert_eq!(status["driverState"], "FAILED", "{status}");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("statement 3 of 4 (line 3)") && message.contains("no_such_column"),
        "{message}"
    );
    let detail = job(&cluster, &id);
    let states: Vec<_> = detail["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["FINISHED", "FINISHED", "FAILED", "PENDING"]);
    // What ran before stays; what came after never ran.
    let spark = cluster.session().await;
    let kept = sql(&spark, &cluster, "SELECT count(*) FROM kept").await;
    assert_eq!(first_int64(&kept, 0), 1);

    // `sparkling submit --wait` reports the failure in its exit code.
    let file = dir.path().join("broken.sql");
    std::fs::write(&file, "SELECT 1;\nSELEC 2;\n").unwrap();
    let out = std::process::Command::new(binary())
        .args(["submit", "--master", &format!("http://{}", addr(&cluster))])
        .arg(&file)
        .arg("--wait")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[1/2] line 1: FINISHED") && stderr.contains("FAILED"),
        "{stderr}"
    );
    let file = dir.path().join("fine.sql");
    std::fs::write(&file, "SELECT 1;").unwrap();
    let out = std::process::Command::new(binary())
        .args(["submit", "--master", &format!("http://{}", addr(&cluster))])
        .arg(&file)
        .args([
            "--wait",
            "--name",
            "fine",
            "--conf",
            "spark.sql.shuffle.partitions=2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A streaming job runs until killed; its query stops with it. A scheduler restart
/// in the middle keeps the job's state, and the job goes on waiting on its query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_job_survives_a_restart_and_is_killed() {
    let (dir, catalog) = scratch_catalog();
    let mut cluster = cluster_with_state(&catalog, &dir.path().join("state"), &[]).await;
    let script = "SET spark.sparkling.streaming.trigger = '200 milliseconds';\n\
                  CREATE STREAMING TABLE auths AS SELECT * FROM \
                  STREAM(generate_events(kind => 'auth', rate => 200));";
    let (_, created) = submit(&cluster, "stream", script, json!({}));
    let id = created["submissionId"].as_str().unwrap().to_string();
    let (_, finished) = submit(&cluster, "quick", "SELECT 1;", json!({}));
    let finished = finished["submissionId"].as_str().unwrap().to_string();
    wait_for_state(&cluster, &finished, &["FINISHED"]).await;

    // Running, with its query committing batches.
    let deadline = Instant::now() + Duration::from_secs(60);
    let query = loop {
        let detail = job(&cluster, &id);
        if let Some(q) = detail["streams"].as_array().and_then(|s| s.first()) {
            break q.as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no streaming query: {detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status_of(&cluster, &id)["driverState"], "RUNNING");
    let spark = cluster.session().await;
    let rows_before = loop {
        if let Ok(r) = spark.run_sql("SELECT count(*) FROM auths").await
            && first_int64(&r.batches, 0) > 0
        {
            break first_int64(&r.batches, 0);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Prometheus sees the executors, the running job and its query's batches.
    let metrics = wait_for_metric(
        &cluster,
        &format!("sparkling_streaming_last_batch_id{{query=\"{query}\""),
    )
    .await;
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        assert!(name.starts_with("sparkling_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    for expected in [
        "sparkling_executors 2",
        "sparkling_task_slots 2",
        "sparkling_submissions{state=\"RUNNING\"} 1",
        "sparkling_submissions{state=\"FINISHED\"} 1",
        "sparkling_streaming_queries{state=\"ACTIVE\"} 1",
        "# TYPE sparkling_streaming_processed_rows_per_second gauge",
    ] {
        assert!(metrics.contains(expected), "{expected} not in\n{metrics}");
    }

    // The JSON API shows the same.
    let view = get_json(&cluster, "/api/v1/cluster", &[]);
    assert_eq!(view["executors"].as_array().unwrap().len(), 2, "{view}");
    assert_eq!(view["taskSlots"], 2);
    let view = get_json(&cluster, &format!("/api/v1/streams/{query}"), &[]);
    assert_eq!(view["state"], "ACTIVE", "{view}");
    assert_eq!(view["definition"]["target"]["name"], "auths", "{view}");
    assert!(
        !view["recentProgress"].as_array().unwrap().is_empty(),
        "{view}"
    );
    assert_eq!(view["lastProgress"]["id"], query.as_str(), "{view}");
    let (code, body) = http(&addr(&cluster), "GET", "/api/v1/streams", "", &[]);
    assert_eq!(code, 200);
    assert!(body.contains(&query), "{body}");
    let (code, _) = http(&addr(&cluster), "GET", "/api/v1/streams/nope", "", &[]);
    assert_eq!(code, 404);

    cluster.kill_scheduler();
    cluster.start_scheduler_again();
    cluster.wait_for_executors(2).await;
    assert_eq!(status_of(&cluster, &id)["driverState"], "RUNNING");
    assert_eq!(status_of(&cluster, &finished)["driverState"], "FINISHED");
    // The query resumed by itself and goes on writing.
    let spark = cluster.session().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = spark
            .run_sql("SELECT count(*) FROM auths")
            .await
            .map(|r| first_int64(&r.batches, 0))
            .unwrap_or(0);
        if rows > rows_before {
            break;
        }
        assert!(Instant::now() < deadline, "the query did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let out = std::process::Command::new(binary())
        .args([
            "kill",
            "--master",
            &format!("http://{}", addr(&cluster)),
            &id,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = wait_for_state(&cluster, &id, &["KILLED"]).await;
    assert_eq!(status["message"], "killed");
    let handle = spark.streams().get(&query).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while handle.status().await.unwrap().is_active {
        assert!(Instant::now() < deadline, "the job's query still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The executors are free for other work.
    let answer = sql(&spark, &cluster, "SELECT count(*) FROM range(1000)").await;
    assert_eq!(first_int64(&answer, 0), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_get_clear_errors() {
    let (dir, catalog) = scratch_catalog();
    let cluster = cluster_with_state(
        &catalog,
        &dir.path().join("state"),
        &["--auth-token", "s3cret"],
    )
    .await;
    let a = addr(&cluster);
    let auth = "Authorization: Bearer s3cret";
    let post = |body: &str| http(&a, "POST", "/v1/submissions/create", body, &[auth]);

    // No token, a wrong one.
    let (code, body) = http(&a, "GET", "/api/v1/submissions", "", &[]);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("requires a token"), "{body}");
    let (code, _) = http(&a, "GET", "/metrics", "", &[]);
    assert_eq!(code, 401);
    let (code, _) = http(
        &a,
        "GET",
        "/api/v1/submissions",
        "",
        &["Authorization: Bearer nope"],
    );
    assert_eq!(code, 401);

    let expect = |(code, body): (u16, String), want: u16, needle: &str| {
        assert_eq!(code, want, "{body}");
        assert!(body.contains(needle), "expected {needle:?} in {body}");
        assert!(body.contains("\"action\":\"ErrorResponse\""), "{body}");
    };
    expect(post("{not json"), 400, "Malformed request");
    expect(
        post("{\"action\": \"KillSubmissionRequest\"}"),
        400,
        "expected action",
    );
    expect(
        post("{\"action\": \"CreateSubmissionRequest\"}"),
        400,
        "appResource is missing",
    );
    let request = |resource: &str, content: &str| {
        json!({"action": "CreateSubmissionRequest", "appResource": resource, "appContent": content})
            .to_string()
    };
    expect(
        post(&request("job.jar", "x")),
        400,
        "neither a .sql script nor a pipeline spec",
    );
    expect(
        post(&request("job.sql", "-- nothing\n")),
        400,
        "no statements",
    );
    expect(
        post(&request("job.sql", "SELECT 'open")),
        400,
        "does not parse",
    );
    expect(
        post(
            &json!({"action": "CreateSubmissionRequest", "appResource": "/nowhere/job.sql"})
                .to_string(),
        ),
        400,
        "cannot read appResource",
    );
    let huge = request("big.sql", &"x".repeat(17 * 1024 * 1024));
    let (code, _) = post(&huge);
    assert_eq!(code, 413);
    expect(
        http(&a, "GET", "/v1/nothing/here", "", &[auth]),
        404,
        "no such endpoint",
    );
    // Unknown ids.
    let (code, body) = http(
        &a,
        "GET",
        "/v1/submissions/status/driver-20000101000000-9999",
        "",
        &[auth],
    );
    assert_eq!(code, 404);
    assert!(
        body.contains("\"success\":false") && body.contains("no submission"),
        "{body}"
    );
    let (code, body) = http(
        &a,
        "POST",
        "/v1/submissions/kill/driver-20000101000000-9999",
        "",
        &[auth],
    );
    assert_eq!(code, 404, "{body}");
    // Nothing was accepted.
    let (code, body) = http(&a, "GET", "/api/v1/submissions", "", &[auth]);
    assert_eq!((code, body.as_str()), (200, "[]"));
}
