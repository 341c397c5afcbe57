//! All 22 TPC-H queries through the gateway, with the SDK and with `sparkling sql`,
//! compared with DataFusion single-process on the same files, and with DuckDB through
//! the benchmark harness's peer script and cross-check; joins with a broadcast side.

use std::process::Command;

use sparkling_benches::tpch::{normalize, query};

use crate::cluster::{TestCluster, assert_same_answer, binary, register_tpch, tpch_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_answers_match_datafusion_single_process() {
    let data = tpch_data().await;
    let cluster = TestCluster::start(2, 2).await;
    let session = cluster.session().await;
    let reference = register_tpch(&session, &data).await;
    let queries_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tpch/queries");
    for n in 1..=22 {
        let expected_batches = reference
            .sql(query(n))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(
            expected_batches.iter().any(|b| b.num_rows() > 0) || n == 15 || n == 21,
            "q{n}: the reference answer is empty; the data is too small to test it"
        );

        // The SDK.
        let result = session
            .run_sql(query(n))
            .await
            .unwrap_or_else(|e| panic!("q{n} failed through the SDK: {e}\n{}", cluster.logs()));
        assert_same_answer(&result.batches, &expected_batches, &format!("q{n} (SDK)"));
        assert_eq!(
            result
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>(),
            expected_batches[0]
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>(),
            "q{n} column names differ"
        );

        // The command line, in a session of its own (tables are shared), prints what
        // the SDK got.
        let expected = normalize(&result.batches).unwrap();
        let output = Command::new(binary())
            .args(["sql", "--remote", &cluster.url(), "--format", "csv", "-f"])
            .arg(queries_dir.join(format!("q{n}.sql")))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "q{n} failed through sparkling sql: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let mut rows: Vec<String> = stdout.lines().skip(1).map(str::to_string).collect();
        rows.sort();
        assert_eq!(rows, expected, "q{n} (sparkling sql) differs");
    }
}

/// The benchmark harness's cross-check, as the harness runs it: the peer script runs
/// all 22 queries on DuckDB over the same files, and every Sparkling answer must agree
/// with DuckDB's within the harness's tolerance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_answers_agree_with_duckdb_through_the_harness_peer_script() {
    use sparkling_benches::peers::{TpchRun, run_tpch};
    use sparkling_benches::tpch::check::{compare, rows_of_batches, rows_of_json};

    let data = tpch_data().await;
    let python = crate::catalog::python();
    let duckdb = tokio::task::spawn_blocking({
        let data = data.clone();
        move || {
            run_tpch(
                std::path::Path::new(&python),
                &TpchRun {
                    engine: "duckdb",
                    data: &data,
                    iterations: 0,
                    threads: 2,
                    only: Vec::new(),
                    spark_memory: "4g",
                    shuffle_partitions: 2,
                },
            )
        }
    })
    .await
    .unwrap()
    .expect("the DuckDB peer runs");
    assert_eq!(duckdb.engine, "duckdb");
    assert_eq!(duckdb.queries.len(), 22);
    let memory = duckdb.memory.expect("the peer reports its memory");
    assert!(memory.peak_rss_bytes >= memory.idle_rss_bytes && memory.idle_rss_bytes > 0);

    let cluster = TestCluster::start(2, 2).await;
    let session = cluster.session().await;
    register_tpch(&session, &data).await;
    for n in 1..=22 {
        let peer = duckdb.query(n).unwrap();
        assert!(
            peer.error.is_none(),
            "q{n} failed on DuckDB: {:?}",
            peer.error
        );
        assert!(peer.best_ms.is_some() && peer.cold_ms.is_some());
        let ours = session
            .run_sql(query(n))
            .await
            .unwrap_or_else(|e| panic!("q{n} failed: {e}\n{}", cluster.logs()));
        let ours = rows_of_batches(&ours.batches).unwrap();
        let theirs = rows_of_json(&peer.rows);
        if let Err(e) = compare(ours.clone(), theirs.clone()) {
            panic!("q{n}: Sparkling and DuckDB differ: {e}");
        }
        // The check is not vacuous: dropping one of DuckDB's rows, or changing a
        // value, is caught.
        if let Some((first, rest)) = theirs.split_first() {
            assert!(compare(ours.clone(), rest.to_vec()).is_err(), "q{n}");
            let mut changed = theirs.clone();
            changed[0] = first
                .iter()
                .map(|c| match c {
                    sparkling_benches::tpch::check::Cell::Num(v) => {
                        sparkling_benches::tpch::check::Cell::Num(v + 1.0)
                    }
                    other => other.clone(),
                })
                .collect();
            if changed[0] != *first {
                assert!(compare(ours, changed).is_err(), "q{n}");
            }
        }
    }
}

/// Joins whose small side is broadcast to every task must still emit the small side's
/// unmatched rows once: left, full, semi and anti joins with a three-row side against
/// a table split over both executors, and `NOT IN`, which must see the whole subquery
/// (see `sparkling_engine::join_planning`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_with_a_small_side_keep_each_unmatched_row_once() {
    let cluster = TestCluster::start(2, 1).await;
    let session = cluster.session().await;
    for statement in [
        "CREATE TEMPORARY VIEW small AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (1000001, 'z')) AS t(k, name)",
        "CREATE TEMPORARY VIEW big AS SELECT id AS k FROM range(0, 200000)",
    ] {
        crate::cluster::sql(&session, &cluster, statement).await;
    }
    let cases: [(&str, &[i64]); 8] = [
        (
            "SELECT count(*) FROM small s WHERE NOT EXISTS (SELECT 1 FROM big b WHERE b.k = s.k)",
            &[1],
        ),
        (
            "SELECT count(*) FROM small s WHERE EXISTS (SELECT 1 FROM big b WHERE b.k = s.k)",
            &[2],
        ),
        (
            "SELECT count(*), count(b.k) FROM small s LEFT JOIN big b ON s.k = b.k",
            &[3, 2],
        ),
        (
            "SELECT count(*), count(b.k) FROM big b RIGHT JOIN small s ON s.k = b.k",
            &[3, 2],
        ),
        (
            "SELECT count(*), count(s.k) FROM small s FULL JOIN big b ON s.k = b.k",
            &[200001, 3],
        ),
        ("SELECT count(*) FROM big b JOIN small s ON s.k = b.k", &[2]),
        // NOT IN over a nullable subquery: one NULL anywhere in it means no row passes.
        (
            "SELECT count(*) FROM small WHERE k NOT IN (SELECT CASE WHEN k = 150000 THEN NULL ELSE k END FROM big)",
            &[0],
        ),
        (
            "SELECT count(*) FROM small WHERE k NOT IN (SELECT CASE WHEN k = 150000 THEN -1 ELSE k END FROM big)",
            &[1],
        ),
    ];
    for (query, expected) in cases {
        let result = crate::cluster::sql(&session, &cluster, query).await;
        let got: Vec<i64> = (0..expected.len())
            .map(|c| crate::cluster::first_int64(&result, c))
            .collect();
        assert_eq!(got, expected, "{query}");
    }
}
