//! Object storage: the catalog's warehouse in a real S3-compatible server (Garage,
//! started by scripts/test.sh), with the scheduler and executors as separate processes
//! writing and reading there, pyiceberg and pyarrow as independent clients, and the
//! SDK reading Parquet straight from the bucket.

use crate::catalog::{CatalogProcess, run_python_with_env, script};
use crate::cluster::{TestCluster, binary, first_int64};

/// The test S3 server, from the `SPARKLING_TEST_S3_*` variables scripts/test.sh sets.
struct S3 {
    endpoint: String,
    region: String,
    bucket: String,
    access_key_id: String,
    secret_access_key: String,
}

impl S3 {
    /// The server, or `None` (test skipped) when run outside scripts/test.sh.
    fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(format!("SPARKLING_TEST_S3_{name}")).ok();
        let Some(endpoint) = var("ENDPOINT") else {
            assert!(
                std::env::var("SPARKLING_TEST_REQUIRE_SERVICES").is_err(),
                "SPARKLING_TEST_S3_ENDPOINT is not set"
            );
            eprintln!("skipped: SPARKLING_TEST_S3_ENDPOINT is not set (scripts/test.sh sets it)");
            return None;
        };
        Some(Self {
            endpoint,
            region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
            bucket: var("BUCKET").expect("SPARKLING_TEST_S3_BUCKET"),
            access_key_id: var("ACCESS_KEY_ID").expect("SPARKLING_TEST_S3_ACCESS_KEY_ID"),
            secret_access_key: var("SECRET_ACCESS_KEY")
                .expect("SPARKLING_TEST_S3_SECRET_ACCESS_KEY"),
        })
    }

    /// The AWS variables every process (ours and Python) reads its S3 settings from.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_REGION", &self.region),
            ("AWS_ACCESS_KEY_ID", &self.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
    }

    /// A fresh prefix in the bucket for one test.
    fn scratch_prefix(&self) -> String {
        format!(
            "s3://{}/test-{}",
            self.bucket,
            uuid::Uuid::new_v4().simple()
        )
    }
}

fn objects_under(s3: &S3, catalog: &CatalogProcess, url: &str) -> u64 {
    let helper = script("s3_objects.py");
    run_python_with_env(
        &[helper.to_str().unwrap(), "count", url],
        catalog,
        &s3.env(),
    )
    .trim()
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceberg_tables_live_in_an_s3_warehouse() {
    let Some(s3) = S3::from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let warehouse = s3.scratch_prefix();
    let db = format!("sqlite:{}", dir.path().join("catalog.db").display());
    let catalog = CatalogProcess::start_at(&db, &warehouse, dir.path(), &[], &s3.env());
    let cluster = TestCluster::start_with_env(2, 2, &["--catalog", &catalog.uri], &s3.env()).await;
    let spark = cluster.session().await;
    let sql = |query: &'static str| {
        let spark = &spark;
        let (cluster, catalog) = (&cluster, &catalog);
        async move {
            spark
                .run_sql(query)
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}\n{}\n{}", cluster.logs(), catalog.log()))
                .batches
        }
    };

    // A distributed CTAS into a partitioned table, then an INSERT: both commit
    // snapshots whose data files the executors wrote into the bucket.
    sql("CREATE NAMESPACE sales").await;
    sql("CREATE TABLE sales.orders PARTITIONED BY (region) AS \
         SELECT id, CASE WHEN id % 2 = 0 THEN 'eu' ELSE 'us' END AS region, id * 10 AS amount \
         FROM range(1000)")
    .await;
    let inserted = sql("INSERT INTO sales.orders VALUES (1000, 'apac', 5)").await;
    assert_eq!(first_int64(&inserted, 0), 1);
    let totals = sql("SELECT count(*), sum(amount) FROM sales.orders").await;
    assert_eq!(first_int64(&totals, 0), 1001);
    assert_eq!(first_int64(&totals, 1), 4_995_005);
    let eu = sql("SELECT count(*) FROM sales.orders WHERE region = 'eu'").await;
    assert_eq!(first_int64(&eu, 0), 500);
    let outside = sql(
        "SELECT count(*) FROM sales.orders.files WHERE file_path NOT LIKE 's3://%/test-%/sales/orders/data/%'",
    )
    .await;
    assert_eq!(
        first_int64(&outside, 0),
        0,
        "every data file is in the bucket"
    );

    // pyiceberg, told only the catalog URI (the catalog tells it the endpoint and
    // region; the keys come from its environment), reads what the engine wrote ...
    let view = run_python_with_env(
        &[
            "-c",
            &format!(
                "from pyiceberg.catalog import load_catalog\n\
                 t = load_catalog('c', type='rest', uri='{}').load_table('sales.orders')\n\
                 rows = t.scan().to_arrow()\n\
                 print(rows.num_rows, sum(rows.column('amount').to_pylist()), \
                       t.location().startswith('{warehouse}/'))",
                catalog.uri
            ),
        ],
        &catalog,
        &s3.env(),
    );
    assert_eq!(view.trim(), "1001 4995005 True");

    // ... and writes a table of its own there, which the engine reads.
    let append = script("append_with_pyiceberg.py");
    let out = run_python_with_env(
        &[append.to_str().unwrap(), &catalog.uri, "sales.returns", "2"],
        &catalog,
        &s3.env(),
    );
    assert_eq!(out.trim(), format!("200 {}", 2 * 4950));
    let returns = sql("SELECT count(*), sum(amount) FROM sales.returns WHERE region = 'eu'").await;
    assert_eq!(first_int64(&returns, 0), 100);
    assert_eq!(
        first_int64(&returns, 1),
        2 * 2500,
        "the odd amounts of two appends"
    );

    // DROP TABLE ... PURGE removes the table's objects from the bucket.
    let location = format!("{warehouse}/sales/orders");
    assert!(objects_under(&s3, &catalog, &location) > 0);
    sql("DROP TABLE sales.orders PURGE").await;
    assert_eq!(objects_under(&s3, &catalog, &location), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reads_parquet_from_a_bucket() {
    let Some(s3) = S3::from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Any catalog process will do to run Python with; the data is written by pyarrow.
    let db = format!("sqlite:{}", dir.path().join("catalog.db").display());
    let catalog = CatalogProcess::start_at(&db, &s3.scratch_prefix(), dir.path(), &[], &s3.env());
    let file = format!("{}/raw/numbers.parquet", s3.scratch_prefix());
    let helper = script("s3_objects.py");
    let out = run_python_with_env(
        &[helper.to_str().unwrap(), "put-numbers", &file, "1000"],
        &catalog,
        &s3.env(),
    );
    assert_eq!(out.trim(), "ok");

    let cluster = TestCluster::start_with_env(2, 1, &[], &s3.env()).await;
    let spark = cluster.session().await;
    let numbers = spark
        .read()
        .parquet(&file)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(numbers.count().await.unwrap(), 1000);
    let sum = spark
        .run_sql(&format!("SELECT sum(n) FROM '{file}'"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(first_int64(&sum.batches, 0), 499_500);

    // A table over the bucket's files, as Spark's CREATE TABLE ... USING parquet LOCATION.
    let raw = file.trim_end_matches("numbers.parquet");
    spark
        .run_sql(&format!(
            "CREATE EXTERNAL TABLE raw_numbers STORED AS PARQUET LOCATION '{raw}'"
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    let big = spark
        .run_sql("SELECT count(*) FROM raw_numbers WHERE n >= 900")
        .await
        .unwrap();
    assert_eq!(first_int64(&big.batches, 0), 100);

    // A missing object is an error that names it, not a hang or an empty result.
    let missing = format!("{}/raw/none.parquet", s3.scratch_prefix());
    let err = match spark.read().parquet(&missing).await {
        Ok(df) => df.count().await.unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("Path does not exist") && err.contains("none.parquet"),
        "{err}"
    );
}

#[test]
fn a_catalog_that_cannot_reach_its_bucket_says_so_at_startup() {
    let Some(s3) = S3::from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(binary())
        .args(["catalog", "--port", "0", "--db"])
        .arg(format!("sqlite:{}", dir.path().join("c.db").display()))
        .args(["--warehouse", &s3.scratch_prefix()])
        .envs(s3.env())
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be listed"), "{err}");
}
