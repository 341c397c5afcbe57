//! `sparkling-bench`: runs TPC-H on `sparkling local` (two executors) and on DataFusion
//! single-process over the same Parquet files, measures the gateway's round trip,
//! writes `lineitem` into a partitioned Iceberg table (vs DataFusion writing the same
//! Parquet), runs TPC-H again over Iceberg copies of the tables and, given a Kafka
//! broker, measures streaming ingest ([`streaming`]); writes `docs/benchmarks.md`.
//!
//! ```text
//! sparkling-bench --sparkling target/release/sparkling --scale 1 --iterations 3 \
//!     --kafka 127.0.0.1:9092 --out docs/benchmarks.md
//! ```

mod streaming;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use datafusion::prelude::SessionContext;
use sparkling_benches::report::{IcebergBench, Latency, QueryTiming, Report};
use sparkling_benches::tpch::{create_tables_sql, data, normalize, query};
use sparkling_client::SparkSession;

struct Args {
    sparkling: PathBuf,
    scale: f64,
    iterations: usize,
    data_dir: PathBuf,
    out: PathBuf,
    latency_runs: usize,
    kafka: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sparkling: PathBuf::from("target/release/sparkling"),
        scale: 1.0,
        iterations: 3,
        data_dir: PathBuf::from("benches/data"),
        out: PathBuf::from("docs/benchmarks.md"),
        latency_runs: 1000,
        kafka: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sparkling" => args.sparkling = PathBuf::from(value()?),
            "--scale" => args.scale = value()?.parse()?,
            "--iterations" => args.iterations = value()?.parse()?,
            "--data" => args.data_dir = PathBuf::from(value()?),
            "--out" => args.out = PathBuf::from(value()?),
            "--latency-runs" => args.latency_runs = value()?.parse()?,
            "--kafka" => args.kafka = Some(value()?),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// `sparkling local`, stopped when dropped.
struct Local(Child);

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn start_local(
    bin: &PathBuf,
    work: &std::path::Path,
) -> anyhow::Result<(Local, String, Duration)> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new(bin)
        .args([
            "local",
            "--executors",
            "2",
            "--connect-port",
            &port.to_string(),
            "--catalog-port",
            "0",
            "--http-port",
            "0",
        ])
        .arg("--warehouse")
        .arg(work.join("warehouse"))
        .arg("--catalog-db")
        .arg(work.join("catalog.db"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let local = Local(child);
    let url = format!("sc://127.0.0.1:{port}");
    // Cold start to first answer: the first successful query.
    loop {
        if let Ok(s) = SparkSession::connect(&url).await
            && s.run_sql("select 1").await.is_ok()
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("sparkling local did not answer within 30s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((local, url, started.elapsed()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = args.data_dir.join(format!("tpch-sf{}", args.scale));
    eprintln!(
        "generating TPC-H SF{} under {} (reused if present)",
        args.scale,
        dir.display()
    );
    data::generate_parquet(&dir, args.scale, 4).await?;

    // DataFusion single-process: the bound on distribution overhead.
    let reference = SessionContext::new();
    for s in create_tables_sql(&dir) {
        reference.sql(&s).await?.collect().await?;
    }
    // Sparkling local with two executors (and its Iceberg catalog in a scratch dir).
    let work = std::env::temp_dir().join(format!("sparkling-bench-{}", std::process::id()));
    let (local, url, cold_start) = start_local(&args.sparkling, &work).await?;
    let spark = SparkSession::connect(&url).await?;
    for s in create_tables_sql(&dir) {
        spark.run_sql(&s).await?;
    }

    let mut timings = Vec::new();
    let mut answers = Vec::new();
    for n in 1..=22 {
        let mut df_times = Vec::new();
        let mut sp_times = Vec::new();
        let mut df_answer = Vec::new();
        let mut sp_answer = Vec::new();
        for i in 0..=args.iterations {
            let t = Instant::now();
            let batches = reference.sql(query(n)).await?.collect().await?;
            df_times.push(t.elapsed());
            if i == 0 {
                df_answer = normalize(&batches)?;
            }
            let t = Instant::now();
            let result = spark
                .run_sql(query(n))
                .await
                .with_context(|| format!("q{n} on sparkling"))?;
            sp_times.push(t.elapsed());
            if i == 0 {
                sp_answer = normalize(&result.batches)?;
            }
        }
        let timing = QueryTiming {
            query: n,
            datafusion_cold_ms: ms(df_times[0]),
            datafusion_best_ms: ms(*df_times[1..].iter().min().unwrap_or(&df_times[0])),
            sparkling_cold_ms: ms(sp_times[0]),
            sparkling_best_ms: ms(*sp_times[1..].iter().min().unwrap_or(&sp_times[0])),
            answers_match: df_answer == sp_answer,
        };
        eprintln!(
            "q{n:>2}: datafusion {:>8.1} ms  sparkling {:>8.1} ms  {}",
            timing.datafusion_best_ms,
            timing.sparkling_best_ms,
            if timing.answers_match {
                "answers match"
            } else {
                "ANSWERS DIFFER"
            }
        );
        timings.push(timing);
        answers.push(df_answer);
    }

    // Round trip of a trivial query through the gateway.
    let mut samples = Vec::with_capacity(args.latency_runs);
    for _ in 0..args.latency_runs {
        let t = Instant::now();
        spark.run_sql("select 1").await?;
        samples.push(t.elapsed());
    }
    let trivial = Latency::from_samples("`SELECT 1` (answered by the gateway)", &mut samples);
    // Round trip of the smallest query that runs as a distributed job.
    let runs = (args.latency_runs / 5).max(10);
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        spark.run_sql("select count(*) from region").await?;
        samples.push(t.elapsed());
    }
    let job = Latency::from_samples(
        "`SELECT count(*) FROM region` (a distributed job)",
        &mut samples,
    );

    let iceberg = iceberg_bench(
        &spark,
        &reference,
        &dir,
        &work,
        &timings,
        &answers,
        args.iterations,
    )
    .await;
    let streaming = match (&iceberg, &args.kafka) {
        (Ok(_), Some(bootstrap)) => {
            // The quick mode (small scale) runs a smaller streaming benchmark too.
            let sizes = if args.scale >= 1.0 {
                streaming::Sizes {
                    backlog: 500_000,
                    live_seconds: 30,
                    triggers: vec![1, 10],
                }
            } else {
                streaming::Sizes {
                    backlog: 100_000,
                    live_seconds: 15,
                    triggers: vec![1, 10],
                }
            };
            Some(streaming::run(&spark, &args.sparkling, bootstrap, &sizes).await)
        }
        _ => None,
    };
    drop(local);
    let _ = std::fs::remove_dir_all(&work);
    let iceberg = iceberg?;
    let streaming = streaming.transpose()?;
    let report = Report {
        scale: args.scale,
        iterations: args.iterations,
        timings,
        latencies: vec![trivial, job],
        cold_start_ms: ms(cold_start),
        iceberg: Some(iceberg),
        streaming,
    };
    std::fs::write(&args.out, report.markdown())?;
    eprintln!("wrote {}", args.out.display());
    let iceberg_differs = report
        .iceberg
        .as_ref()
        .is_some_and(|i| i.timings.iter().any(|t| !t.3));
    if report.timings.iter().any(|t| !t.answers_match) || iceberg_differs {
        bail!("some answers differ between Sparkling and DataFusion");
    }
    Ok(())
}

/// Writes `lineitem` into a partitioned Iceberg table (timed against DataFusion writing
/// the same Parquet), copies the other tables, and runs TPC-H over the Iceberg tables.
async fn iceberg_bench(
    spark: &SparkSession,
    reference: &SessionContext,
    dir: &std::path::Path,
    work: &std::path::Path,
    parquet: &[QueryTiming],
    answers: &[Vec<String>],
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
                answer = normalize(&result.batches)?;
            }
        }
        let matches = answer == answers[n - 1];
        let parquet_best = parquet[n - 1].sparkling_best_ms;
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
