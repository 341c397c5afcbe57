//! The Rust SDK against a real cluster: DataFrame operations built locally, executed
//! remotely; temp views; inline data; configuration; interrupts.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::ExprFunctionExt;
use datafusion::prelude::{col, lit};
use sparkling_benches::tpch::normalize;

use crate::cluster::{TestCluster, explain, first_int64, tpch_data};

fn people() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("team", DataType::Utf8, false),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            Arc::new(StringArray::from(vec!["ann", "bob", "cy", "dee"])),
            Arc::new(StringArray::from(vec!["red", "blue", "red", "red"])),
        ],
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataframe_operations_run_on_the_cluster() {
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;

    // range + filter + with_column + aggregate
    let df = spark
        .range(0, 1000, 1)
        .await
        .unwrap()
        .filter(col("id").gt_eq(lit(10i64)))
        .unwrap()
        .with_column("bucket", col("id") % lit(3i64))
        .unwrap()
        .aggregate(
            vec![col("bucket")],
            vec![count(lit(1)).alias("n"), sum(col("id")).alias("s")],
        )
        .unwrap()
        .sort(vec![col("bucket").sort(true, false)])
        .unwrap();
    let rows = normalize(&df.collect().await.unwrap()).unwrap();
    assert_eq!(rows, vec!["0,330,166815", "1,330,166155", "2,330,166485"]);
    assert_eq!(
        spark
            .range(0, 1000, 1)
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1000
    );

    // create_dataframe + join + distinct + union + limit
    let people = spark.create_dataframe(vec![people()]).unwrap();
    let teams = spark
        .sql("select * from (values ('red', 'Reds'), ('blue', 'Blues')) as t(team_id, label)")
        .await
        .unwrap();
    let joined = people
        .join(&teams, JoinType::Inner, &["team"], &["team_id"])
        .unwrap()
        .select(vec![col("name"), col("label")])
        .unwrap();
    let rows = normalize(&joined.collect().await.unwrap()).unwrap();
    assert_eq!(rows, vec!["ann,Reds", "bob,Blues", "cy,Reds", "dee,Reds"]);
    let labels = joined
        .select(vec![col("label")])
        .unwrap()
        .distinct()
        .unwrap();
    assert_eq!(labels.count().await.unwrap(), 2);
    assert_eq!(people.union(&people).unwrap().count().await.unwrap(), 8);
    assert_eq!(
        people
            .limit(3)
            .unwrap()
            .collect()
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        3
    );

    // window functions
    let ranked = people
        .window(vec![
            row_number()
                .partition_by(vec![col("team")])
                .order_by(vec![col("id").sort(false, false)])
                .build()
                .unwrap()
                .alias("rank"),
        ])
        .unwrap()
        .filter(col("rank").eq(lit(1u64)))
        .unwrap()
        .select(vec![col("team"), col("name")])
        .unwrap();
    let rows = normalize(&ranked.collect().await.unwrap()).unwrap();
    assert_eq!(rows, vec!["blue,bob", "red,dee"]);

    // temp views are per session; the schema is known without running a job
    people.create_or_replace_temp_view("people").await.unwrap();
    let view = spark.table("people").await.unwrap();
    assert_eq!(view.schema().field(1).name(), "name");
    assert_eq!(
        spark
            .sql("select count(*) from people")
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1
    );
    let other = cluster.session().await;
    let err = other
        .run_sql("select * from people")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("people"), "{err}");

    // explain names where the plan runs
    let plan = view.explain(false).await.unwrap();
    assert!(plan.contains("distributed job"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_files_and_keeps_config_per_session() {
    let data = tpch_data().await;
    let cluster = TestCluster::start(1, 2).await;
    let spark = cluster.session().await;
    let nation = spark
        .read()
        .parquet(data.join("nation").to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(nation.count().await.unwrap(), 25);
    let europe = nation
        .filter(col("n_regionkey").eq(lit(3i64)))
        .unwrap()
        .select(vec![col("n_name")])
        .unwrap();
    assert_eq!(europe.count().await.unwrap(), 5);

    // CSV written by the cluster's own SQL, read back through the reader
    let csv_dir = cluster.dir.path().join("csv-out");
    spark
        .run_sql(&format!(
            "COPY (select n_nationkey, n_name from '{}') TO '{}/' STORED AS CSV OPTIONS ('format.has_header' 'true')",
            data.join("nation").display(),
            csv_dir.display()
        ))
        .await
        .unwrap();
    let csv = spark
        .read()
        .option("header", "true")
        .csv(csv_dir.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(csv.count().await.unwrap(), 25);

    spark
        .conf_set("spark.sql.shuffle.partitions", "3")
        .await
        .unwrap();
    assert_eq!(
        spark
            .conf_get("spark.sql.shuffle.partitions")
            .await
            .unwrap()
            .as_deref(),
        Some("3")
    );
    let other = cluster.session().await;
    assert_ne!(
        other
            .conf_get("spark.sql.shuffle.partitions")
            .await
            .unwrap()
            .as_deref(),
        Some("3")
    );
    assert!(
        spark
            .conf_set("datafusion.execution.batch_size", "many")
            .await
            .is_err()
    );
    assert_eq!(spark.version().await.unwrap(), "4.2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_are_split_over_the_executors() {
    let cluster = TestCluster::start(2, 1).await;
    let spark = cluster.session().await;

    let query = "SELECT count(*), sum(id) FROM range(0, 1000000)";
    let rows = spark.run_sql(query).await.unwrap().batches;
    assert_eq!(first_int64(&rows, 0), 1_000_000);
    assert_eq!(first_int64(&rows, 1), 499_999_500_000);
    let plan = explain(&spark, query).await;
    assert!(plan.contains("distributed job on the executors"), "{plan}");
    assert!(plan.contains("RangeExec"), "{plan}");

    let rows = spark
        .run_sql("SELECT count(*), sum(value) FROM generate_series(1, 10)")
        .await
        .unwrap()
        .batches;
    assert_eq!((first_int64(&rows, 0), first_int64(&rows, 1)), (10, 55));
    let rows = spark
        .run_sql("SELECT sum(id) FROM range(10, 0, -3)")
        .await
        .unwrap()
        .batches;
    assert_eq!(first_int64(&rows, 0), 10 + 7 + 4 + 1);
    let rows = spark
        .run_sql(
            "SELECT count(*) FROM range(0, 100000) r JOIN range(0, 100000, 2) s \
             ON r.id = s.id",
        )
        .await
        .unwrap()
        .batches;
    assert_eq!(first_int64(&rows, 0), 50_000);

    // The SDK's range, projected and aggregated on the executors.
    let df = spark
        .range(0, 1000, 1)
        .await
        .unwrap()
        .select(vec![(col("id") * lit(2i64)).alias("twice")])
        .unwrap()
        .aggregate(vec![], vec![sum(col("twice")).alias("s")])
        .unwrap();
    let rows = df.collect().await.unwrap();
    assert_eq!(first_int64(&rows, 0), 2 * 499_500);

    let err = spark
        .run_sql("SELECT * FROM range(0, 10, 0)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("must not be 0"), "{err}");
}
