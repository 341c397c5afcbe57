//! The lakehouse benchmark: `lineitem` written into a partitioned Iceberg table by CTAS
//! (timed against DataFusion single-process writing the same Parquet), then TPC-H on
//! Sparkling over Iceberg copies of every table, checked against the Parquet answers.

use std::time::{Duration, Instant};

use anyhow::Context;
use datafusion::prelude::SessionContext;
use sparkling_benches::report::{EngineRun, IcebergBench};
use sparkling_benches::tpch::check::{Cell, compare, rows_of_batches};
use sparkling_benches::tpch::{data, query};
use sparkling_client::SparkSession;

use crate::ms;

/// Writes `lineitem` into a partitioned Iceberg table (timed against DataFusion writing
/// the same Parquet), copies the other tables, and runs TPC-H over the Iceberg tables.
pub async fn run(
    spark: &SparkSession,
    reference: &SessionContext,
    dir: &std::path::Path,
    work: &std::path::Path,
    parquet: &EngineRun,
    answers: &[Vec<Vec<Cell>>],
    iterations: usize,
) -> anyhow::Result<IcebergBench> {
    const PARTITION: &str = "l_shipmode";
    // The Parquet tables move aside; the Iceberg copies take their names.
    for table in data::TABLES {
        spark
            .run_sql(&format!(
                "CREATE EXTERNAL TABLE src_{table} STORED AS PARQUET LOCATION '{}/'",
                dir.join(table).display()
            ))
            .await?;
        spark.run_sql(&format!("DROP TABLE {table}")).await?;
    }
    let mut sparkling_ctas_ms = 0.0;
    for table in data::TABLES {
        let partitioned = if table == "lineitem" {
            format!(" PARTITIONED BY ({PARTITION})")
        } else {
            String::new()
        };
        let t = Instant::now();
        spark
            .run_sql(&format!(
                "CREATE TABLE {table}{partitioned} AS SELECT * FROM src_{table}"
            ))
            .await
            .with_context(|| format!("CTAS of {table}"))?;
        if table == "lineitem" {
            sparkling_ctas_ms = ms(t.elapsed());
            eprintln!("CTAS lineitem into Iceberg: {sparkling_ctas_ms:.0} ms");
        }
    }
    let rows = reference
        .sql("SELECT count(*) FROM lineitem")
        .await?
        .collect()
        .await?;
    let lineitem_rows =
        arrow::array::cast::as_primitive_array::<arrow::datatypes::Int64Type>(rows[0].column(0))
            .value(0) as u64;
    let copy_dir = work.join("datafusion-copy");
    let t = Instant::now();
    reference
        .sql(&format!(
            "COPY (SELECT * FROM lineitem) TO '{}/' STORED AS PARQUET PARTITIONED BY ({PARTITION}) \
             OPTIONS ('format.compression' 'zstd(3)')",
            copy_dir.display()
        ))
        .await?
        .collect()
        .await?;
    let datafusion_copy_ms = ms(t.elapsed());
    eprintln!("DataFusion COPY lineitem: {datafusion_copy_ms:.0} ms");

    let mut timings = Vec::new();
    for n in 1..=22 {
        let mut best = Duration::MAX;
        let mut answer = Vec::new();
        for i in 0..=iterations {
            let t = Instant::now();
            let result = spark
                .run_sql(query(n))
                .await
                .with_context(|| format!("q{n} over Iceberg"))?;
            if i > 0 || iterations == 0 {
                best = best.min(t.elapsed());
            }
            if i == 0 {
                answer = rows_of_batches(&result.batches)?;
            }
        }
        let matches = compare(std::mem::take(&mut answer), answers[n - 1].clone()).is_ok();
        let parquet_best = parquet.query(n).map_or(f64::NAN, |q| q.best_ms);
        eprintln!(
            "q{n:>2}: parquet {parquet_best:>8.1} ms  iceberg {:>8.1} ms  {}",
            ms(best),
            if matches {
                "answers match"
            } else {
                "ANSWERS DIFFER"
            }
        );
        timings.push((n, parquet_best, ms(best), matches));
    }
    Ok(IcebergBench {
        lineitem_rows,
        partitioned_by: PARTITION.to_string(),
        sparkling_ctas_ms,
        datafusion_copy_ms,
        timings,
    })
}
