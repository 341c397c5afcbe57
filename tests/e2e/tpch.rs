//! All 22 TPC-H queries through the gateway, with the SDK and with `sparkling sql`,
//! compared with DataFusion single-process on the same files.

use std::process::Command;

use sparkling_benches::tpch::{normalize, query};

use crate::cluster::{TestCluster, binary, register_tpch, tpch_data};

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
        let expected = normalize(&expected_batches).unwrap();
        assert!(
            !expected.is_empty() || n == 15 || n == 21,
            "q{n}: the reference answer is empty; the data is too small to test it"
        );

        // The SDK.
        let result = session
            .run_sql(query(n))
            .await
            .unwrap_or_else(|e| panic!("q{n} failed through the SDK: {e}\n{}", cluster.logs()));
        assert_eq!(
            normalize(&result.batches).unwrap(),
            expected,
            "q{n} (SDK) differs"
        );
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

        // The command line, in a session of its own (tables are shared).
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
