//! Fault tolerance: SIGKILL one of two executors while a multi-stage TPC-H query runs;
//! the query still returns the right answer (lost tasks re-run, lost shuffle output
//! recomputed), and an executor that rejoins is used again.

use std::path::PathBuf;
use std::time::Duration;

use sparkling_benches::tpch::query;

use crate::cluster::{
    TestCluster, assert_same_answer, files_under, reference_answer, register_tpch,
};

/// TPC-H at scale factor 1 (the acceptance criterion's size), generated once: tests
/// that need it concurrently wait for one generator (two would delete each other's
/// files).
pub async fn tpch_sf1() -> PathBuf {
    static DIR: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    DIR.get_or_init(|| async {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tpch-sf1");
        sparkling_benches::tpch::data::generate_parquet(&dir, 1.0, 4)
            .await
            .expect("generate TPC-H SF1");
        dir
    })
    .await
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_executor_mid_query_still_gives_the_right_answer() {
    let data = tpch_sf1().await;
    let mut cluster = TestCluster::start(2, 2).await;
    let spark = cluster.session().await;
    let reference = register_tpch(&spark, &data).await;
    for n in [9, 18] {
        let expected = reference_answer(&reference, n).await;

        let before: Vec<_> = cluster.executors.iter().map(|e| e.job_dirs()).collect();
        let running = {
            let spark = spark.clone();
            tokio::spawn(async move { spark.run_sql(query(n)).await })
        };
        // Kill an executor outright as soon as it holds shuffle output of the query:
        // later stages need that output, so the loss cannot go unnoticed.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let victim = loop {
            let new_output = |(i, e): (usize, &crate::cluster::Executor)| {
                e.job_dirs().difference(&before[i]).next().is_some()
            };
            if let Some(i) = cluster.executors.iter().enumerate().position(new_output) {
                break i;
            }
            assert!(
                !running.is_finished(),
                "q{n} finished before any shuffle output was seen"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "no shuffle output appeared for q{n}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut victim = cluster.executors.remove(victim);
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();

        let result = running.await.unwrap().unwrap_or_else(|e| {
            panic!(
                "q{n} failed after an executor was killed: {e}\n{}",
                cluster.logs()
            )
        });
        assert_same_answer(&result.batches, &expected, &format!("q{n} after the kill"));
        // The answer came from a run that noticed the loss (not from one that finished
        // before the kill mattered).
        let logs = cluster.logs();
        assert!(
            logs.contains("running the job again"),
            "q{n}: the scheduler did not report re-running the job:\n{logs}"
        );

        // A replacement joins; the next query must be able to use it.
        let replacement = cluster.spawn_executor(10 + n, 2);
        cluster.executors.push(replacement);
        // It must be up before the next kill (it is restarted if it failed to start).
        cluster.wait_for_executors(0).await;
    }

    // Only rejoined executors are left after this: kill the original survivor.
    let mut survivor = cluster.executors.remove(0);
    survivor.child.kill().unwrap();
    survivor.child.wait().unwrap();
    let expected = reference_answer(&reference, 3).await;
    let result = spark.run_sql(query(3)).await.unwrap_or_else(|e| {
        panic!(
            "q3 failed on the rejoined executors: {e}\n{}",
            cluster.logs()
        )
    });
    assert_same_answer(&result.batches, &expected, "q3 on the rejoined executors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executor_stops_cleanly_on_sigterm() {
    let mut cluster = TestCluster::start(1, 1).await;
    let mut executor = cluster.executors.remove(0);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &executor.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = executor.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "executor did not stop within 20s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        exit.success(),
        "executor exited with {exit}\n{}",
        cluster.logs()
    );
    // Its work directory holds no job data afterwards: no files, at any depth (its
    // empty `shuffle/` and `spill/` directories stay).
    let mut leftovers = Vec::new();
    for entry in std::fs::read_dir(cluster.dir.path()).unwrap().flatten() {
        // The directories are the work directories; the files beside them are logs.
        if entry.path().is_dir() {
            leftovers.extend(files_under(&entry.path()));
        }
    }
    assert!(leftovers.is_empty(), "job data left behind: {leftovers:?}");
}
