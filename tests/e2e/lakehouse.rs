//! Iceberg tables in the engine: a cluster whose `spark_catalog` is backed by a
//! `sparkling catalog` process reads tables that pyiceberg wrote, with the scan spread
//! over the executors and pruned by partition.

use arrow::array::{Array, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;

use crate::catalog::{CatalogProcess, run_python, script};
use crate::cluster::{TestCluster, explain, files_under, first_int64, sql};

/// A catalog process over a scratch SQLite database and warehouse (`<dir>/warehouse`).
pub fn scratch_catalog() -> (tempfile::TempDir, CatalogProcess) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("catalog.db").display());
    let catalog = CatalogProcess::start(&db, &dir.path().join("warehouse"), dir.path(), &[]);
    (dir, catalog)
}

/// Two executors with `slots` slots each, whose `spark_catalog` is `catalog`.
async fn cluster_on(catalog: &CatalogProcess, slots: usize) -> TestCluster {
    TestCluster::start_with(2, slots, &["--catalog", &catalog.uri]).await
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
    let (_dir, catalog) = scratch_catalog();
    let append = script("append_with_pyiceberg.py");
    let append = append.to_str().unwrap();
    let out = run_python(&[append, &catalog.uri, "sales.orders", "4"], &catalog);
    assert_eq!(out.trim(), format!("400 {}", 4 * 4950));

    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;

    let result = spark
        .run_sql("SELECT count(*), sum(amount) FROM sales.orders")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", cluster.logs(), catalog.log()));
    assert_eq!(first_int64(&result.batches, 0), 400);
    assert_eq!(first_int64(&result.batches, 1), 4 * 4950);

    // The same table by its full name, filtered on the partition column.
    let eu = "SELECT count(*) FROM spark_catalog.sales.orders WHERE region = 'eu'";
    let result = spark.run_sql(eu).await.unwrap();
    assert_eq!(first_int64(&result.batches, 0), 200);

    // The scan runs on the executors, over several partitions, and the filter prunes
    // the other region's files (one file per region per append).
    let plan = explain(&spark, "SELECT id, amount FROM sales.orders").await;
    assert!(plan.contains("distributed job on the executors"), "{plan}");
    // 8 files over the session's 4 shuffle partitions.
    assert!(plan.contains("file_groups={4 groups"), "{plan}");
    assert_eq!(plan.matches(".parquet").count(), 8, "{plan}");
    let plan = explain(&spark, eu).await;
    assert_eq!(plan.matches(".parquet").count(), 4, "{plan}");
    // The filter also goes into the Parquet reader (row groups and pages).
    assert!(plan.contains("predicate="), "{plan}");

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
    assert_eq!(first_int64(&result.batches, 0), 500);

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
    let (dir, catalog) = scratch_catalog();
    let warehouse = dir.path().join("warehouse");
    let append = script("append_with_pyiceberg.py");
    run_python(
        &[append.to_str().unwrap(), &catalog.uri, "sales.orders", "2"],
        &catalog,
    );
    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;

    // VALUES, including a partition value the table has not seen.
    let result = spark
        .run_sql("INSERT INTO sales.orders VALUES (1000, 'eu', 5), (1001, 'apac', 7)")
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", cluster.logs(), catalog.log()));
    // The rows written (a `bigint`: Spark has no unsigned types).
    assert_eq!(first_int64(&result.batches, 0), 2);
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
    assert_eq!(first_int64(&result.batches, 0), 2);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_ddl_creates_fills_and_drops_iceberg_tables() {
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;

    sql(&spark, &cluster, "CREATE NAMESPACE lake").await;
    let namespaces = strings(&sql(&spark, &cluster, "SHOW NAMESPACES").await);
    assert!(
        namespaces.contains(&"lake".to_string()) && namespaces.contains(&"default".to_string())
    );
    sql(
        &spark,
        &cluster,
        "CREATE TABLE lake.events (id BIGINT NOT NULL, ts TIMESTAMP, kind STRING, amount DOUBLE) \
         USING iceberg PARTITIONED BY (days(ts), bucket(4, id), kind) \
         TBLPROPERTIES ('write.owner' = 'tests')",
    )
    .await;
    sql(
        &spark,
        &cluster,
        "INSERT INTO lake.events VALUES \
         (1, TIMESTAMP '2024-01-01 10:00:00', 'click', 1.5), \
         (2, TIMESTAMP '2024-01-02 11:00:00', 'view', 2.5), \
         (3, TIMESTAMP '2024-01-02 12:00:00', 'click', 3.0)",
    )
    .await;
    sql(
        &spark,
        &cluster,
        "CREATE TABLE lake.by_kind AS SELECT kind, count(*) AS n, sum(amount) AS total \
         FROM lake.events GROUP BY kind",
    )
    .await;
    let rows = sql(
        &spark,
        &cluster,
        "SELECT kind FROM lake.by_kind ORDER BY kind",
    )
    .await;
    assert_eq!(strings(&rows), ["click", "view"]);

    // pyiceberg sees the partition spec, the properties and one snapshot per write.
    let snippet = format!(
        "from pyiceberg.catalog import load_catalog\n\
         c = load_catalog('c', type='rest', uri='{}')\n\
         e = c.load_table('lake.events')\n\
         print([f.name for f in e.spec().fields], e.properties.get('write.owner'), \
               len(e.snapshots()), e.scan().to_arrow().num_rows, \
               'sparkling.job-id' in e.current_snapshot().summary.additional_properties)\n\
         k = c.load_table('lake.by_kind').scan().to_arrow().sort_by('kind')\n\
         print(k.column('n').to_pylist(), k.column('total').to_pylist())",
        catalog.uri
    );
    let out = run_python(&["-c", &snippet], &catalog);
    assert_eq!(
        out.trim(),
        "['ts_day', 'id_bucket', 'kind'] tests 1 3 True\n[2, 1] [4.5, 2.5]"
    );

    // Schema evolution.
    sql(
        &spark,
        &cluster,
        "ALTER TABLE lake.events ADD COLUMNS (note STRING)",
    )
    .await;
    sql(
        &spark,
        &cluster,
        "INSERT INTO lake.events VALUES (4, TIMESTAMP '2024-01-03 00:00:00', 'view', 1.0, 'new')",
    )
    .await;
    let rows = sql(
        &spark,
        &cluster,
        "SELECT coalesce(note, '-') FROM lake.events ORDER BY id",
    )
    .await;
    assert_eq!(strings(&rows), ["-", "-", "-", "new"]);
    let described = strings(&sql(&spark, &cluster, "DESCRIBE lake.events").await);
    assert_eq!(described, ["id", "ts", "kind", "amount", "note"]);

    // TBLPROPERTIES picks the format version, as in Spark.
    sql(
        &spark,
        &cluster,
        "CREATE TABLE lake.v1 (a INT) TBLPROPERTIES ('format-version' = '1')",
    )
    .await;
    let version = run_python(
        &[
            "-c",
            &format!(
                "from pyiceberg.catalog import load_catalog\nprint(load_catalog('c', type='rest', uri='{}').load_table('lake.v1').format_version)",
                catalog.uri
            ),
        ],
        &catalog,
    );
    assert_eq!(version.trim(), "1");
    let err = spark
        .run_sql("CREATE TABLE lake.v9 (a INT) TBLPROPERTIES ('format-version' = '9')")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("format-version"), "{err}");

    // A bare name lands in the default namespace.
    sql(&spark, &cluster, "CREATE TABLE plain (a INT)").await;
    sql(&spark, &cluster, "INSERT INTO plain VALUES (7)").await;
    let rows = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM spark_catalog.default.plain",
    )
    .await;
    assert_eq!(first_int64(&rows, 0), 1);

    // A CTAS whose query fails on the executors leaves no table behind.
    let err = spark
        .run_sql("CREATE TABLE lake.broken AS SELECT CAST(kind AS INT) AS k FROM lake.events")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("cast"), "{err}");
    let exists = run_python(
        &[
            "-c",
            &format!(
                "from pyiceberg.catalog import load_catalog\n\
                 print(load_catalog('c', type='rest', uri='{}').table_exists('lake.broken'))",
                catalog.uri
            ),
        ],
        &catalog,
    );
    assert_eq!(exists.trim(), "False");

    // Bad DDL is refused with a reason.
    for (statement, expected) in [
        ("CREATE TABLE nowhere.t (a INT)", "nowhere"),
        (
            "CREATE TABLE lake.p (a INT) PARTITIONED BY (b)",
            "no such column",
        ),
        ("CREATE TABLE lake.events (a INT)", "already exists"),
        (
            "CREATE TABLE lake.q (a INT) PARTITIONED BY (weeks(a))",
            "weeks",
        ),
        ("DROP NAMESPACE lake", "not empty"),
    ] {
        let err = spark.run_sql(statement).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{statement}: {err}");
    }

    sql(&spark, &cluster, "DROP TABLE lake.by_kind").await;
    sql(&spark, &cluster, "DROP NAMESPACE lake CASCADE").await;
    let namespaces = strings(&sql(&spark, &cluster, "SHOW NAMESPACES").await);
    assert!(!namespaces.contains(&"lake".to_string()), "{namespaces:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_creates_appends_and_reads_tables() {
    use datafusion::prelude::{col, lit};
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;

    let df = spark
        .create_dataframe(vec![crate::cluster::numbers(1000)])
        .unwrap()
        .with_column("even", (col("x") % lit(2i64)).eq(lit(0i64)))
        .unwrap();
    df.write_to("default.numbers")
        .partitioned_by(&["bucket(4, x)", "even"])
        .unwrap()
        .table_property("owner", "sdk")
        .create()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(
        spark.table("numbers").await.unwrap().count().await.unwrap(),
        1000
    );
    df.write_to("numbers").append().await.unwrap();
    let table = spark.table("spark_catalog.default.numbers").await.unwrap();
    assert_eq!(table.count().await.unwrap(), 2000);
    let evens = table.filter(col("even")).unwrap().count().await.unwrap();
    assert_eq!(evens, 1000);

    let err = df
        .write_to("numbers")
        .create()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");
    let err = df
        .write_to("nope.t")
        .append()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    let err = df
        .write_to("default.other")
        .partitioned_by(&["weeks(x)"])
        .unwrap()
        .create()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("weeks"), "{err}");

    let snippet = format!(
        "from pyiceberg.catalog import load_catalog\n\
         t = load_catalog('c', type='rest', uri='{}').load_table('default.numbers')\n\
         print([f.name for f in t.spec().fields], t.properties.get('owner'), \
               t.scan().to_arrow().num_rows, len(t.snapshots()))",
        catalog.uri
    );
    let out = run_python(&["-c", &snippet], &catalog);
    assert_eq!(out.trim(), "['x_bucket', 'even'] sdk 2000 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_files_and_time_travel() {
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;

    sql(&spark, &cluster, "CREATE TABLE t (a BIGINT)").await;
    for values in ["(1)", "(2), (3)", "(4), (5), (6)"] {
        sql(&spark, &cluster, &format!("INSERT INTO t VALUES {values}")).await;
    }
    let snapshots = sql(
        &spark,
        &cluster,
        "SELECT snapshot_id, CAST(committed_at AS BIGINT) AS ms, \
         summary['sparkling.write-id'] AS write FROM default.t.snapshots ORDER BY ms",
    )
    .await;
    let batch = arrow::compute::concat_batches(&snapshots[0].schema(), &snapshots).unwrap();
    assert_eq!(batch.num_rows(), 3);
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let committed = batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let writes = arrow::compute::cast(batch.column(2), &arrow::datatypes::DataType::Utf8).unwrap();
    assert_eq!(writes.null_count(), 0, "every snapshot names its write");

    for (i, expected) in [(0, 1), (1, 3), (2, 6)] {
        let rows = sql(
            &spark,
            &cluster,
            &format!("SELECT count(*) FROM t FOR VERSION AS OF {}", ids.value(i)),
        )
        .await;
        assert_eq!(first_int64(&rows, 0), expected);
    }
    let at = arrow::temporal_conversions::timestamp_ms_to_datetime(committed.value(1))
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string();
    let rows = sql(
        &spark,
        &cluster,
        &format!("SELECT sum(a) FROM spark_catalog.default.t FOR TIMESTAMP AS OF '{at}'"),
    )
    .await;
    assert_eq!(first_int64(&rows, 0), 6);

    let files = sql(
        &spark,
        &cluster,
        "SELECT count(*), sum(record_count) FROM default.t.files",
    )
    .await;
    let files_count = files[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert!(files_count >= 3, "{files_count}");
    assert_eq!(first_int64(&files, 1), 6);

    let err = spark
        .run_sql("SELECT * FROM t FOR VERSION AS OF 12345")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no snapshot 12345"), "{err}");
    let err = spark
        .run_sql("SELECT * FROM t FOR TIMESTAMP AS OF '2001-01-01 00:00:00'")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no snapshot at or before"), "{err}");
}

/// `query` over the TPC-H tables named `prefix` + name instead (whole words only).
fn with_table_prefix(query: &str, prefix: &str) -> String {
    use sparkling_benches::tpch::data::TABLES;
    let mut out = String::new();
    let mut word = String::new();
    for c in query.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if TABLES.contains(&word.as_str()) {
            out.push_str(prefix);
        }
        out.push_str(&word);
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// The partition modes of a plan's hash joins (`CollectLeft`: broadcast), in order.
fn join_modes(plan: &str) -> Vec<&str> {
    plan.split("HashJoinExec: mode=")
        .skip(1)
        .map(|rest| rest.split(',').next().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_over_iceberg_tables_matches_parquet() {
    use sparkling_benches::tpch::{data::TABLES, query};
    let data = crate::cluster::tpch_data().await;
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 2).await;
    let spark = cluster.session().await;
    let reference = crate::cluster::register_tpch(&spark, &data).await;
    // The Parquet tables move aside; the Iceberg copies take their names.
    for table in TABLES {
        sql(
            &spark,
            &cluster,
            &format!(
                "CREATE EXTERNAL TABLE src_{table} STORED AS PARQUET LOCATION '{}/'",
                data.join(table).display()
            ),
        )
        .await;
        sql(&spark, &cluster, &format!("DROP TABLE {table}")).await;
        sql(
            &spark,
            &cluster,
            &format!("CREATE TABLE {table} AS SELECT * FROM src_{table}"),
        )
        .await;
    }
    let plan = explain(&spark, "SELECT * FROM lineitem").await;
    assert!(
        plan.contains("/default/lineitem/data/"),
        "not reading Iceberg: {plan}"
    );
    // The manifests' statistics size joins as the Parquet footers do: the same join
    // plans (which side is broadcast, which is shuffled) over both.
    for n in [5, 7, 8, 9, 18, 21] {
        let over_iceberg = explain(&spark, query(n)).await;
        let over_parquet = explain(&spark, &with_table_prefix(query(n), "src_")).await;
        assert!(
            over_iceberg.contains("/default/lineitem/data/"),
            "{over_iceberg}"
        );
        assert!(
            !over_parquet.contains("/default/lineitem/data/"),
            "{over_parquet}"
        );
        assert_eq!(
            join_modes(&over_iceberg),
            join_modes(&over_parquet),
            "q{n}'s joins are planned differently over Iceberg:\n{over_iceberg}\nover Parquet:\n{over_parquet}"
        );
    }
    for n in 1..=22 {
        let expected = crate::cluster::reference_answer(&reference, n).await;
        let result = spark
            .run_sql(query(n))
            .await
            .unwrap_or_else(|e| panic!("q{n} over Iceberg: {e}\n{}", cluster.logs()));
        crate::cluster::assert_same_answer(
            &result.batches,
            &expected,
            &format!("q{n} over Iceberg"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_lose_no_commit() {
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 2).await;
    let spark = cluster.session().await;
    sql(&spark, &cluster, "CREATE TABLE shared (writer INT, n INT)").await;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = cluster.url();
            tokio::spawn(async move {
                let spark = sparkling_client::SparkSession::connect(&url).await.unwrap();
                for n in 0..20 {
                    spark
                        .run_sql(&format!("INSERT INTO shared VALUES ({w}, {n})"))
                        .await
                        .unwrap_or_else(|e| panic!("writer {w} insert {n}: {e}"));
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let rows = sql(
        &spark,
        &cluster,
        "SELECT count(*), count(DISTINCT writer * 100 + n) FROM shared",
    )
    .await;
    assert_eq!(first_int64(&rows, 0), 40);
    assert_eq!(first_int64(&rows, 1), 40);
    let snapshots = sql(
        &spark,
        &cluster,
        "SELECT count(*) FROM default.shared.snapshots",
    )
    .await;
    assert_eq!(first_int64(&snapshots, 0), 40);
    let snippet = format!(
        "from pyiceberg.catalog import load_catalog\n\
         t = load_catalog('c', type='rest', uri='{}').load_table('default.shared')\n\
         print(len(t.snapshots()), t.scan().to_arrow().num_rows)",
        catalog.uri
    );
    assert_eq!(run_python(&["-c", &snippet], &catalog).trim(), "40 40");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_executor_during_ctas_leaves_a_whole_table_or_none() {
    let data = crate::fault::tpch_sf1().await;
    let (dir, catalog) = scratch_catalog();
    let warehouse = dir.path().join("warehouse");
    let mut cluster = cluster_on(&catalog, 2).await;
    let spark = cluster.session().await;
    sql(
        &spark,
        &cluster,
        &format!(
            "CREATE EXTERNAL TABLE src_lineitem STORED AS PARQUET LOCATION '{}/'",
            data.join("lineitem").display()
        ),
    )
    .await;
    let running = {
        let spark = spark.clone();
        tokio::spawn(async move {
            spark
                .run_sql(
                    "CREATE TABLE li PARTITIONED BY (l_returnflag) AS SELECT * FROM src_lineitem",
                )
                .await
        })
    };
    // Kill an executor once data files are being written.
    let data_dir = warehouse.join("default/li/data");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !has_files(&data_dir) {
        assert!(
            std::time::Instant::now() < deadline,
            "no data files appeared"
        );
        assert!(!running.is_finished(), "the CTAS finished before the kill");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut victim = cluster.executors.remove(0);
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let result = running.await.unwrap();
    let exists = format!(
        "from pyiceberg.catalog import load_catalog\n\
         c = load_catalog('c', type='rest', uri='{}')\n\
         print(c.table_exists('default.li') and c.load_table('default.li').scan().count())",
        catalog.uri
    );
    let seen = run_python(&["-c", &exists], &catalog);
    eprintln!(
        "CTAS after the kill: {:?}; pyiceberg sees {}",
        result.as_ref().map(|_| ()),
        seen.trim()
    );
    match result {
        Ok(_) => {
            // Retried to completion: every row exactly once, no stray files.
            assert_eq!(seen.trim(), "6001215", "{}", cluster.logs());
            let listed = sql(&spark, &cluster, "SELECT count(*) FROM default.li.files").await;
            assert_eq!(
                first_int64(&listed, 0) as usize,
                files_under(&data_dir).len()
            );
        }
        Err(e) => {
            assert_eq!(seen.trim(), "False", "a failed CTAS left a table ({e})");
            assert_eq!(
                files_under(&data_dir).len(),
                0,
                "a failed CTAS left data files ({e})"
            );
        }
    }
}

fn has_files(dir: &std::path::Path) -> bool {
    !files_under(dir).is_empty()
}

/// Spark's name rules: table and namespace names match ignoring case, column names and
/// aliases keep the case they were written in (so camelCase columns need no quotes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_follow_spark_case_rules() {
    let (_dir, catalog) = scratch_catalog();
    let cluster = cluster_on(&catalog, 1).await;
    let spark = cluster.session().await;
    sql(&spark, &cluster, "CREATE NAMESPACE Sales").await;
    sql(
        &spark,
        &cluster,
        "CREATE TABLE Sales.Orders AS SELECT id AS orderId, id % 3 AS Region FROM range(10)",
    )
    .await;
    let result = sql(
        &spark,
        &cluster,
        "SELECT count(orderId) AS Total, sum(Region) FROM SALES.orders",
    )
    .await;
    assert_eq!(result[0].schema().field(0).name(), "Total");
    assert_eq!(first_int64(&result, 0), 10);
    assert_eq!(first_int64(&result, 1), 9);
    // The table is sales.orders in the catalog, with its columns as written.
    let columns = run_python(
        &[
            "-c",
            &format!(
                "from pyiceberg.catalog import load_catalog\n\
                 t = load_catalog('c', type='rest', uri='{}').load_table('sales.orders')\n\
                 print(','.join(f.name for f in t.schema().fields))",
                catalog.uri
            ),
        ],
        &catalog,
    );
    assert_eq!(columns.trim(), "orderId,Region");
    // Views and external tables too.
    sql(&spark, &cluster, "CREATE VIEW MyView AS SELECT 1 AS One").await;
    let one = sql(&spark, &cluster, "SELECT CAST(One AS BIGINT) FROM myview").await;
    assert_eq!(first_int64(&one, 0), 1);
    sql(&spark, &cluster, "DROP VIEW myview").await;
    let gone = spark.run_sql("SELECT * FROM MyView").await.unwrap_err();
    assert!(gone.to_string().contains("MyView"), "{gone}");
}
