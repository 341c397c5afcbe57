//! A tour of the Rust SDK against a running cluster.
//!
//! ```sh
//! sparkling local &                       # or any Sparkling cluster
//! cargo run -p sparkling-client --example dataframe   # uses $SPARK_REMOTE or sc://127.0.0.1:15002
//! ```

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::{avg, count};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::ExprFunctionExt;
use datafusion::prelude::{col, lit};
use sparkling_client::SparkSession;

#[tokio::main]
async fn main() -> sparkling_client::Result<()> {
    let spark = SparkSession::from_env().await?;
    println!(
        "connected to {} (Spark {})",
        spark.url().endpoint(),
        spark.version().await?
    );

    // Rows from the client travel with the plan.
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("team", DataType::Utf8, false),
        Field::new("score", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
            Arc::new(StringArray::from(vec!["ann", "bob", "cy", "dee", "eve"])),
            Arc::new(StringArray::from(vec!["red", "blue", "red", "blue", "red"])),
            Arc::new(Int64Array::from(vec![70, 85, 92, 64, 88])),
        ],
    )
    .map_err(|e| sparkling_client::ClientError::Plan(e.to_string()))?;
    let players = spark.create_dataframe(vec![batch])?;

    // A SQL query becomes a DataFrame too.
    let teams = spark
        .sql("SELECT * FROM (VALUES ('red', 'Reds'), ('blue', 'Blues')) AS t(team_id, label)")
        .await?;

    // Built locally as a DataFusion plan, run on the executors.
    let per_team = players
        .join(&teams, JoinType::Inner, &["team"], &["team_id"])?
        .aggregate(
            vec![col("label")],
            vec![
                count(lit(1)).alias("players"),
                avg(col("score")).alias("avg_score"),
            ],
        )?
        .sort(vec![col("avg_score").sort(false, false)])?;
    per_team.show().await?;

    // Window functions: the best player of each team.
    let best = players
        .window(vec![
            row_number()
                .partition_by(vec![col("team")])
                .order_by(vec![col("score").sort(false, false)])
                .build()?
                .alias("rank"),
        ])?
        .filter(col("rank").eq(lit(1u64)))?
        .select(vec![col("team"), col("name"), col("score")])?;
    best.show().await?;

    // Temporary views are visible to SQL in this session.
    players.create_or_replace_temp_view("players").await?;
    let strong = spark
        .sql("SELECT name FROM players WHERE score > 80")
        .await?;
    println!("{} players scored above 80", strong.count().await?);
    println!("{}", strong.explain(false).await?);
    spark.stop().await
}
