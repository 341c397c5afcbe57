//! `sparkling-bench`: runs TPC-H on `sparkling local` (two executors) and on DataFusion
//! single-process over the same Parquet files, measures the gateway's round trip, and
//! writes `docs/benchmarks.md`.
//!
//! ```text
//! sparkling-bench --sparkling target/release/sparkling --scale 1 --iterations 3 --out docs/benchmarks.md
//! ```

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use datafusion::prelude::SessionContext;
use sparkling_benches::report::{Latency, QueryTiming, Report};
use sparkling_benches::tpch::{create_tables_sql, data, normalize, query};
use sparkling_client::SparkSession;

struct Args {
    sparkling: PathBuf,
    scale: f64,
    iterations: usize,
    data_dir: PathBuf,
    out: PathBuf,
    latency_runs: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sparkling: PathBuf::from("target/release/sparkling"),
        scale: 1.0,
        iterations: 3,
        data_dir: PathBuf::from("benches/data"),
        out: PathBuf::from("docs/benchmarks.md"),
        latency_runs: 1000,
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

async fn start_local(bin: &PathBuf) -> anyhow::Result<(Local, String, Duration)> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new(bin)
        .args([
            "local",
            "--executors",
            "2",
            "--connect-port",
            &port.to_string(),
        ])
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
    // Sparkling local with two executors.
    let (_local, url, cold_start) = start_local(&args.sparkling).await?;
    let spark = SparkSession::connect(&url).await?;
    for s in create_tables_sql(&dir) {
        spark.run_sql(&s).await?;
    }

    let mut timings = Vec::new();
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

    let report = Report {
        scale: args.scale,
        iterations: args.iterations,
        timings,
        latencies: vec![trivial, job],
        cold_start_ms: ms(cold_start),
    };
    std::fs::write(&args.out, report.markdown())?;
    eprintln!("wrote {}", args.out.display());
    if report.timings.iter().any(|t| !t.answers_match) {
        bail!("some answers differ between Sparkling and DataFusion");
    }
    Ok(())
}
