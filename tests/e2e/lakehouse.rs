//! Iceberg tables in the engine: a cluster whose `spark_catalog` is backed by a
//! `sparkling catalog` process reads tables that pyiceberg wrote, with the scan spread
//! over the executors and pruned by partition.

use arrow::array::{Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;

use crate::catalog::{CatalogProcess, run_python, script};
use crate::cluster::TestCluster;

fn int(batches: &[RecordBatch], col: usize) -> i64 {
    let a = batches[0]
        .column(col)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("an Int64 column");
    a.value(0)
}

fn strings(batches: &[RecordBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("a string column")
                .clone();
            (0..a.len()).map(move |i| a.value(i).to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_reads_iceberg_tables_written_by_pyiceberg() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("catalog.db").display());
    let catalog = CatalogProcess::start(&db, &dir.path().join("warehouse"), dir.path(), &[]);
    let append = script("append_with_pyiceberg.py");
    let append = append.to_str().unwrap();
    let out = run_python(&[append, &catalog.uri, "sales.orders", "4"], &catalog);
    assert_eq!(out.trim(), format!("400 {}", 4 * 4950));

    let cluster = TestCluster::start_with(2, 1, &["--catalog", &catalog.uri]).await;
    let spark = cluster.session().await;

    let result = spark
        .run_sql("SELECT count(*), sum(amount) FROM sales.orders")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", cluster.logs(), catalog.log()));
    assert_eq!(int(&result.batches, 0), 400);
    assert_eq!(int(&result.batches, 1), 4 * 4950);

    // The same table by its full name, filtered on the partition column.
    let eu = "SELECT count(*) FROM spark_catalog.sales.orders WHERE region = 'eu'";
    let result = spark.run_sql(eu).await.unwrap();
    assert_eq!(int(&result.batches, 0), 200);

    // The scan runs on the executors, over several partitions, and the filter prunes
    // the other region's files (one file per region per append).
    let plan = spark
        .sql("SELECT id, amount FROM sales.orders")
        .await
        .unwrap()
        .explain(false)
        .await
        .unwrap();
    assert!(plan.contains("distributed job on the executors"), "{plan}");
    // 8 files over the session's 4 shuffle partitions.
    assert!(plan.contains("file_groups={4 groups"), "{plan}");
    assert_eq!(plan.matches(".parquet").count(), 8, "{plan}");
    let plan = spark.sql(eu).await.unwrap().explain(false).await.unwrap();
    assert_eq!(plan.matches(".parquet").count(), 4, "{plan}");

    // Tables are listed, and each query sees the latest snapshot.
    let tables = spark
        .run_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sales'")
        .await
        .unwrap();
    assert_eq!(strings(&tables.batches), vec!["orders".to_string()]);
    run_python(&[append, &catalog.uri, "sales.orders", "1"], &catalog);
    let result = spark
        .run_sql("SELECT count(*) FROM sales.orders")
        .await
        .unwrap();
    assert_eq!(int(&result.batches, 0), 500);

    // Unknown names fail clearly.
    let err = spark
        .run_sql("SELECT * FROM sales.nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn a_scheduler_pointed_at_a_dead_catalog_says_so() {
    let port = crate::cluster::free_port();
    let out = std::process::Command::new(crate::cluster::binary())
        .args([
            "scheduler",
            "--port",
            "0",
            "--connect-port",
            "0",
            "--catalog",
        ])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not answer"), "{err}");
}

/// pyiceberg's view of a table: rows, sum of `amount`, snapshots, and the last
/// snapshot's `sparkling.write-id` (or `-`).
fn pyiceberg_view(catalog: &CatalogProcess, table: &str) -> String {
    let snippet = format!(
        "from pyiceberg.catalog import load_catalog\n\
         t = load_catalog('c', type='rest', uri='{}').load_table('{table}')\n\
         rows = t.scan().to_arrow()\n\
         s = t.current_snapshot()\n\
         print(rows.num_rows, sum(x for x in rows.column('amount').to_pylist() if x is not None), \
               len(t.snapshots()), s.summary.additional_properties.get('sparkling.write-id', '-') if s else '-')",
        catalog.uri
    );
    run_python(&["-c", &snippet], catalog).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_commit_one_snapshot_that_pyiceberg_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("catalog.db").display());
    let warehouse = dir.path().join("warehouse");
    let catalog = CatalogProcess::start(&db, &warehouse, dir.path(), &[]);
    let append = script("append_with_pyiceberg.py");
    run_python(
        &[append.to_str().unwrap(), &catalog.uri, "sales.orders", "2"],
        &catalog,
    );
    let cluster = TestCluster::start_with(2, 1, &["--catalog", &catalog.uri]).await;
    let spark = cluster.session().await;

    // VALUES, including a partition value the table has not seen.
    let result = spark
        .run_sql("INSERT INTO sales.orders VALUES (1000, 'eu', 5), (1001, 'apac', 7)")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", cluster.logs(), catalog.log()));
    let count = result.batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .unwrap()
        .value(0);
    assert_eq!(count, 2);
    let view = pyiceberg_view(&catalog, "sales.orders");
    let fields: Vec<&str> = view.split_whitespace().collect();
    assert_eq!(
        &fields[..3],
        &["202", &(2 * 4950 + 12).to_string(), "3"],
        "{view}"
    );
    assert_ne!(fields[3], "-", "the snapshot names its write: {view}");

    // A distributed read of the table written back into it: one more snapshot.
    spark
        .run_sql("INSERT INTO sales.orders SELECT id + 10000, region, amount FROM sales.orders")
        .await
        .unwrap();
    let view = pyiceberg_view(&catalog, "sales.orders");
    assert!(
        view.starts_with(&format!("404 {} 4 ", 2 * (2 * 4950 + 12))),
        "{view}"
    );
    let result = spark
        .run_sql("SELECT count(*) FROM sales.orders WHERE region = 'apac'")
        .await
        .unwrap();
    assert_eq!(int(&result.batches, 0), 2);

    // Data files are zstd Parquet under the partition's directory; no stray files.
    let apac = warehouse.join("sales/orders/data/region=apac");
    let files: Vec<_> = std::fs::read_dir(&apac).unwrap().flatten().collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let codec = run_python(
        &[
            "-c",
            "import sys, pyarrow.parquet as pq; \
             print(pq.ParquetFile(sys.argv[1]).metadata.row_group(0).column(0).compression)",
            files[0].path().to_str().unwrap(),
        ],
        &catalog,
    );
    assert_eq!(codec.trim(), "ZSTD");

    // Rows that do not fit fail before anything is committed.
    let err = spark
        .run_sql("INSERT INTO sales.orders VALUES ('x', 'eu', 1)")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.to_lowercase().contains("cast") || err.contains("x"),
        "{err}"
    );
    let err = spark
        .run_sql("INSERT INTO sales.orders VALUES (1, 'eu')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("column") || err.contains("3"), "{err}");
    assert!(pyiceberg_view(&catalog, "sales.orders").starts_with("404 "));
}
