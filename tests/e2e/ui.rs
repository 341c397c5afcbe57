//! The web UI in a real headless Chromium: every page loads through the token
//! check, shows the cluster's live data (executors, a running streaming query whose
//! batches advance between two loads, a pipeline's dataset graph, tables and their
//! snapshots), and the browser logs no console message.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{TestCluster, http, sql};
use crate::lakehouse::scratch_catalog;

const TOKEN: &str = "ui-test-token";

/// Chromium, or `None` (test skipped) when it is not installed outside
/// scripts/test.sh.
fn chromium() -> Option<String> {
    let path = std::env::var("SPARKLING_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    if Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some(path);
    }
    assert!(
        std::env::var("SPARKLING_TEST_REQUIRE_SERVICES").is_err(),
        "chromium is not installed (scripts/install-deps.sh installs it)"
    );
    eprintln!("skipped: chromium is not installed");
    None
}

/// The page at `path` as the browser's DOM after loading, checking that the browser
/// logged no console message (script errors, failed loads, CSP violations).
fn browse(chromium: &str, cluster: &TestCluster, path: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let separator = if path.contains('?') { '&' } else { '?' };
    let url = format!(
        "http://127.0.0.1:{}{path}{separator}token={TOKEN}",
        cluster.http_port
    );
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed on {url}:\n{log}");
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Failed to load resource"))
        .collect();
    assert!(
        console.is_empty(),
        "{url} logged to the console: {console:?}"
    );
    assert!(
        dom.contains("<header>"),
        "{url} did not render a page:\n{dom}\n{log}"
    );
    dom
}

fn get_json(cluster: &TestCluster, path: &str) -> Value {
    crate::cluster::get_json(cluster, path, &[&format!("Authorization: Bearer {TOKEN}")])
}

fn spec(dir: &std::path::Path) -> PathBuf {
    let root = dir.join("uipipe");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("spark-pipeline.yml"),
        "name: uipipe\ndatabase: uipipe\nlibraries:\n  - glob:\n      include: '*.sql'\n",
    )
    .unwrap();
    std::fs::write(
        root.join("datasets.sql"),
        "CREATE STREAMING TABLE logins AS SELECT ts, \"userId\" AS user_id, success FROM \
         STREAM(generate_events(kind => 'auth', count => 300, start => 0, rate => 100));\n\
         CREATE MATERIALIZED VIEW failures (CONSTRAINT ok EXPECT (success)) AS SELECT user_id, \
         success FROM logins;",
    )
    .unwrap();
    root.join("spark-pipeline.yml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_shows_live_data_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        return;
    };
    let (dir, catalog) = scratch_catalog();
    let cluster = TestCluster::start_with(
        2,
        1,
        &[
            "--catalog",
            &catalog.uri,
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
            "--auth-token",
            TOKEN,
        ],
    )
    .await;
    // A finished pipeline job and a running streaming query.
    let out = Command::new(crate::cluster::binary())
        .args([
            "submit",
            "--master",
            &format!("http://127.0.0.1:{}", cluster.http_port),
            "--token",
            TOKEN,
            "--wait",
        ])
        .arg(spec(dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spark = cluster.session().await;
    sql(
        &spark,
        &cluster,
        "CREATE STREAMING TABLE default.ticks AS SELECT ts, \"userId\" AS user_id FROM \
         STREAM(generate_events(kind => 'listen', rate => 50))",
    )
    .await;

    // Without the token the UI is refused; the browser passes it as ?token=.
    let (status, _) = http(
        &format!("127.0.0.1:{}", cluster.http_port),
        "GET",
        "/",
        "",
        &[],
    );
    assert_eq!(status, 401);

    let home = browse(&chromium, &cluster, "/");
    let executors = get_json(&cluster, "/api/v1/cluster");
    for e in executors["executors"].as_array().unwrap() {
        assert!(home.contains(e["id"].as_str().unwrap()), "{home}");
    }
    assert!(home.contains("task slots"), "{home}");

    let jobs = browse(&chromium, &cluster, "/jobs");
    let job = get_json(&cluster, "/api/v1/submissions");
    let id = job[0]["id"].as_str().unwrap().to_string();
    assert!(
        jobs.contains(&id) && jobs.contains("pipeline") && jobs.contains("FINISHED"),
        "{jobs}"
    );
    let detail = browse(&chromium, &cluster, &format!("/jobs/{id}"));
    assert!(
        detail.contains("class=\"graph\"")
            && detail.contains("uipipe.logins")
            && detail.contains("uipipe.failures")
            && detail.contains("materialized view - COMPLETED"),
        "{detail}"
    );
    // The expectation's counts (a few of the 300 logins fail).
    let failures = &job[0]["pipeline"]["datasets"][1]["expectations"][0];
    assert!(
        detail.contains(&format!(
            "ok: {} / {}",
            failures["passed"], failures["failed"]
        )),
        "{detail}"
    );

    // Distributed queries: one with a shuffle (two stages) and one whose tasks fail.
    let counts = sql(
        &spark,
        &cluster,
        "SELECT id % 7 AS k, count(*) AS n FROM range(0, 70000) GROUP BY id % 7",
    )
    .await;
    assert_eq!(counts.iter().map(|b| b.num_rows()).sum::<usize>(), 7);
    let error = spark
        .run_sql("SELECT id % 3 AS k, sum(10 / (id - 5000)) FROM range(0, 9000) GROUP BY id % 3")
        .await
        .expect_err("a division by zero fails")
        .to_string();
    assert!(error.contains("DIVIDE_BY_ZERO"), "{error}");
    let queries = get_json(&cluster, "/api/v1/queries");
    let session_query = |state: &str| -> Value {
        queries
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["state"] == state && q["name"].as_str().unwrap().starts_with("session"))
            .unwrap_or_else(|| panic!("no {state} query in {queries}"))
            .clone()
    };
    let done = session_query("SUCCEEDED");
    assert!(done["stagesTotal"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(done["stagesCompleted"], done["stagesTotal"], "{done}");
    assert_eq!(done["tasksCompleted"], done["tasksTotal"], "{done}");
    let done_id = done["id"].as_str().unwrap().to_string();
    let detail = get_json(&cluster, &format!("/api/v1/queries/{done_id}"));
    let stages = detail["stages"].as_array().unwrap();
    let last = stages
        .iter()
        .find(|s| s["outputs"] == serde_json::json!([]));
    assert_eq!(last.unwrap()["outputRows"], 7, "{detail}");
    for stage in stages {
        assert_eq!(stage["state"], "SUCCEEDED", "{detail}");
        for task in stage["tasks"].as_array().unwrap() {
            assert!(
                task["state"] == "SUCCEEDED"
                    && executors["executors"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e["id"] == task["executor"])
                    && task["durationMs"].is_u64(),
                "{detail}"
            );
        }
    }
    let failed = session_query("FAILED");
    assert!(
        failed["error"].as_str().unwrap().contains("DIVIDE_BY_ZERO"),
        "{failed}"
    );
    let list = browse(&chromium, &cluster, "/queries");
    assert!(
        list.contains(&done_id) && list.contains("<progress") && list.contains("DIVIDE_BY_ZERO"),
        "{list}"
    );
    let page = browse(&chromium, &cluster, &format!("/queries/{done_id}"));
    assert!(
        page.contains("id=\"stage-1\"") && page.contains("SUCCEEDED") && page.contains("7 rows"),
        "{page}"
    );
    let failed_id = failed["id"].as_str().unwrap();
    let page = browse(&chromium, &cluster, &format!("/queries/{failed_id}"));
    assert!(
        page.contains("FAILED") && page.contains("DIVIDE_BY_ZERO"),
        "{page}"
    );
    // Task outcomes and executor memory in /metrics, memory on the cluster page.
    let (_, metrics) = http(
        &format!("127.0.0.1:{}", cluster.http_port),
        "GET",
        "/metrics",
        "",
        &[&format!("Authorization: Bearer {TOKEN}")],
    );
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!(sample("sparkling_tasks_total{outcome=\"succeeded\"}") >= 2.0);
    assert!(sample("sparkling_tasks_total{outcome=\"failed\"}") >= 1.0);
    assert!(
        sample("sparkling_executor_resident_bytes{") > 1e6,
        "{metrics}"
    );
    let home = browse(&chromium, &cluster, "/");
    assert!(
        home.contains("running tasks") && home.contains(" MiB</td>"),
        "{home}"
    );

    // The streaming query, live: its last batch moves on between two loads.
    let streams = get_json(&cluster, "/api/v1/streams");
    let ticks = streams
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["definition"]["name"] == "ticks")
        .unwrap()["definition"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let list = browse(&chromium, &cluster, "/streams");
    assert!(list.contains("ticks") && list.contains("ACTIVE"), "{list}");
    let batch_of = |page: &str| -> Option<i64> {
        let after = page.split("<th>batch</th><td class=\"num\">").nth(1)?;
        after.split('<').next()?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let page = browse(&chromium, &cluster, &format!("/streams/{ticks}"));
        if let Some(batch) = batch_of(&page).filter(|b| *b >= 1) {
            assert!(
                page.contains("class=\"chart\"") && page.contains("<polyline"),
                "{page}"
            );
            break batch;
        }
        assert!(Instant::now() < deadline, "no batches shown:\n{page}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = browse(&chromium, &cluster, &format!("/streams/{ticks}"));
        if batch_of(&page).is_some_and(|b| b > first) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the page did not move on from batch {first}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let tables = browse(&chromium, &cluster, "/tables");
    assert!(
        tables.contains("uipipe") && tables.contains("failures") && tables.contains("ticks"),
        "{tables}"
    );
    let table = browse(&chromium, &cluster, "/tables/uipipe/failures");
    assert!(
        table.contains("Columns")
            && table.contains("user_id")
            && table.contains("overwrite")
            && table.contains(&id),
        "{table}"
    );
    // A page for something that is not there says so.
    let auth = format!("Authorization: Bearer {TOKEN}");
    let (status, missing) = http(
        &format!("127.0.0.1:{}", cluster.http_port),
        "GET",
        "/jobs/driver-0-0",
        "",
        &[&auth],
    );
    assert_eq!(status, 404);
    assert!(missing.contains("There is no job driver-0-0"), "{missing}");
}
