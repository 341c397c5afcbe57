//! `sparkling-bench`: TPC-H on Sparkling (`sparkling local` with two executors, and a
//! scheduler with two executor processes) beside its peers on the same Parquet files:
//! DataFusion single-process (in this process), and, given a Python with `duckdb` and
//! `pyspark`, DuckDB, Spark local[2] and Spark's Spark Connect server
//! ([`sparkling_benches::peers`]). Every answer is checked against DataFusion's. Then
//! round-trip latency (Rust SDK and the PySpark Connect client, against Sparkling and
//! Spark Connect), start-up and resident memory, Iceberg writes and reads
//! ([`iceberg`]) and, given a Kafka broker, streaming ingest ([`streaming`]). Writes
//! `docs/benchmarks.md` and its PNG charts.
//!
//! ```text
//! sparkling-bench --sparkling target/release/sparkling --scale 1 --iterations 3 \
//!     --python ~/.cache/sparkling-bench-venv/bin/python --kafka 127.0.0.1:9092 \
//!     --out docs/benchmarks.md
//! ```

// The DataFusion single-process peer (and the reference answers) is plain DataFusion,
// planned as DataFusion plans SQL.
#![allow(clippy::disallowed_methods)]

mod iceberg;
mod processes;
mod streaming;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use datafusion::prelude::SessionContext;
use processes::Sparkling;
use sparkling_benches::peers::{self, PeerRun, ProcMemory, TpchRun};
use sparkling_benches::report::{Chart, EngineRun, Latency, MemoryRow, QueryRun, Report, StartUp};
use sparkling_benches::tpch::check::{Cell, compare, rows_of_batches, rows_of_json};
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
    python: Option<PathBuf>,
    tpch_only: bool,
    /// Task slots of each Sparkling executor (`--slots`).
    slots: usize,
    /// `SET key = value` statements run in Sparkling's sessions before TPC-H.
    settings: Vec<String>,
}

fn parse_args(argv: impl IntoIterator<Item = String>) -> anyhow::Result<Args> {
    let mut args = Args {
        sparkling: PathBuf::from("target/release/sparkling"),
        scale: 1.0,
        iterations: 3,
        data_dir: PathBuf::from("benches/data"),
        out: PathBuf::from("docs/benchmarks.md"),
        latency_runs: 1000,
        kafka: None,
        python: None,
        tpch_only: false,
        slots: 1,
        settings: Vec::new(),
    };
    let mut it = argv.into_iter();
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
            "--python" => args.python = Some(PathBuf::from(value()?)),
            "--tpch-only" => args.tpch_only = true,
            "--slots" => args.slots = value()?.parse()?,
            "--set" => {
                let setting = value()?;
                let (key, v) = setting
                    .split_once('=')
                    .with_context(|| format!("--set {setting}: expected KEY=VALUE"))?;
                args.settings
                    .push(format!("SET {} = {}", key.trim(), v.trim()));
            }
            other => bail!("unknown flag {other}"),
        }
    }
    if args.slots == 0 {
        bail!("--slots must be at least 1");
    }
    if args.latency_runs == 0 {
        bail!("--latency-runs must be at least 1");
    }
    if args.scale.is_nan() || args.scale <= 0.0 {
        bail!("--scale must be above 0, got {}", args.scale);
    }
    Ok(args)
}

/// "1 task slot" or "2 task slots".
fn task_slots(slots: usize) -> String {
    if slots == 1 {
        "1 task slot".to_string()
    } else {
        format!("{slots} task slots")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// DataFusion single-process's answers, which every other engine's are checked against.
struct Reference {
    /// Sorted CSV rows: an exact match is checked first, then the tolerance.
    exact: Vec<Vec<String>>,
    /// Typed cells: the peers must agree within the tolerance of [`compare`].
    cells: Vec<Vec<Vec<Cell>>>,
}

fn best_and_cold(times: &[Duration]) -> (f64, f64) {
    let cold = times[0];
    let best = times[1..].iter().min().copied().unwrap_or(cold);
    (ms(best), ms(cold))
}

async fn run_datafusion(
    ctx: &SessionContext,
    iterations: usize,
) -> anyhow::Result<(EngineRun, Reference)> {
    let mut queries = Vec::new();
    let mut reference = Reference {
        exact: Vec::new(),
        cells: Vec::new(),
    };
    for n in 1..=22 {
        let mut times = Vec::new();
        for i in 0..=iterations {
            let t = Instant::now();
            let batches = ctx.sql(query(n)).await?.collect().await?;
            times.push(t.elapsed());
            if i == 0 {
                reference.exact.push(normalize(&batches)?);
                reference.cells.push(rows_of_batches(&batches)?);
            }
        }
        let (best_ms, cold_ms) = best_and_cold(&times);
        eprintln!("DataFusion q{n:>2}: {best_ms:>8.1} ms");
        queries.push(Ok(QueryRun {
            cold_ms,
            best_ms,
            check: Ok(()),
        }));
    }
    let engine = EngineRun {
        name: "DataFusion".into(),
        setup: "DataFusion 53.1 single process, default configuration (target partitions = \
                cores), in the harness's own process: the bound on Sparkling's distribution \
                overhead, and the reference for every answer"
            .into(),
        queries,
    };
    Ok((engine, reference))
}

/// TPC-H through Sparkling's gateway; answers must agree with DataFusion's (see
/// [`compare`]).
async fn run_sparkling(
    name: &str,
    setup: &str,
    spark: &SparkSession,
    iterations: usize,
    reference: &Reference,
) -> EngineRun {
    let mut queries = Vec::new();
    for n in 1..=22 {
        let mut times = Vec::new();
        let mut answer: anyhow::Result<(Vec<String>, Vec<Vec<Cell>>)> =
            Err(anyhow::anyhow!("not run"));
        for i in 0..=iterations {
            let t = Instant::now();
            match spark.run_sql(query(n)).await {
                Ok(result) => {
                    times.push(t.elapsed());
                    if i == 0 {
                        answer = normalize(&result.batches)
                            .and_then(|exact| Ok((exact, rows_of_batches(&result.batches)?)));
                    }
                }
                Err(e) => {
                    answer = Err(anyhow::anyhow!("{e}"));
                    break;
                }
            }
        }
        let run = answer.map(|(exact, cells)| {
            let (best_ms, cold_ms) = best_and_cold(&times);
            // Sparkling types literals as Spark does (`0.06` is a decimal), so the last
            // digits of some answers differ from DataFusion's: within the tolerance is
            // equal.
            let check = if exact == reference.exact[n - 1] {
                Ok(())
            } else {
                compare(cells, reference.cells[n - 1].clone())
            };
            QueryRun {
                cold_ms,
                best_ms,
                check,
            }
        });
        match &run {
            Ok(q) => eprintln!(
                "{name} q{n:>2}: {:>8.1} ms{}",
                q.best_ms,
                if q.check.is_ok() {
                    ""
                } else {
                    "  ANSWER DIFFERS"
                }
            ),
            Err(e) => eprintln!("{name} q{n:>2}: FAILED {e}"),
        }
        queries.push(run.map_err(|e| e.to_string()));
    }
    EngineRun {
        name: name.into(),
        setup: setup.into(),
        queries,
    }
}

/// A peer's run as a report column, its answers checked against the reference.
fn peer_engine(name: &str, setup: String, run: &PeerRun, reference: &Reference) -> EngineRun {
    let queries = (1..=22)
        .map(|n| {
            let q = run.query(n).ok_or_else(|| "not run".to_string())?;
            if let Some(e) = &q.error {
                return Err(e.clone());
            }
            Ok(QueryRun {
                cold_ms: q.cold_ms.unwrap_or(f64::NAN),
                best_ms: q.best_ms.unwrap_or(f64::NAN),
                check: compare(rows_of_json(&q.rows), reference.cells[n - 1].clone()),
            })
        })
        .collect();
    EngineRun {
        name: name.into(),
        setup,
        queries,
    }
}

/// Registers the TPC-H tables and applies `--set` settings in a Sparkling session.
async fn prepare(spark: &SparkSession, dir: &Path, settings: &[String]) -> anyhow::Result<()> {
    for s in create_tables_sql(dir).iter().chain(settings) {
        spark.run_sql(s).await.with_context(|| s.clone())?;
    }
    Ok(())
}

/// Idle memory: after start-up and one trivial query.
async fn idle_memory(sparkling: &Sparkling) -> anyhow::Result<Vec<(String, Option<ProcMemory>)>> {
    let spark = SparkSession::connect(&sparkling.url).await?;
    spark.run_sql("select 1").await?;
    Ok(sparkling.memory())
}

fn memory_rows(
    label: impl Fn(&str) -> String,
    idle: &[(String, Option<ProcMemory>)],
    peak: &[(String, Option<ProcMemory>)],
) -> Vec<MemoryRow> {
    idle.iter()
        .zip(peak)
        .map(|((role, idle), (_, peak))| MemoryRow {
            process: label(role),
            idle_bytes: idle.map(|m| m.rss),
            idle_pss_bytes: idle.and_then(|m| m.pss),
            idle_anon_bytes: idle.and_then(|m| m.anon),
            peak_bytes: peak.map(|m| m.peak_rss),
        })
        .collect()
}

async fn latency(
    spark: &SparkSession,
    what: &str,
    sql: &str,
    runs: usize,
) -> anyhow::Result<Latency> {
    for _ in 0..(runs / 10).max(5) {
        spark.run_sql(sql).await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        spark.run_sql(sql).await?;
        samples.push(t.elapsed());
    }
    Ok(Latency::from_samples(what, &mut samples))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let dir = args.data_dir.join(format!("tpch-sf{}", args.scale));
    eprintln!(
        "generating TPC-H SF{} under {} (reused if present)",
        args.scale,
        dir.display()
    );
    data::generate_parquet(&dir, args.scale, 4).await?;
    let mut report = Report {
        scale: args.scale,
        iterations: args.iterations,
        engines: Vec::new(),
        reference: "DataFusion".into(),
        latencies: Vec::new(),
        start_ups: Vec::new(),
        memory: Vec::new(),
        skipped: Vec::new(),
        iceberg: None,
        streaming: None,
        charts: Vec::new(),
    };

    // DataFusion single-process: the reference answers.
    let reference_ctx = SessionContext::new();
    for s in create_tables_sql(&dir) {
        reference_ctx.sql(&s).await?.collect().await?;
    }
    let (datafusion, reference) = run_datafusion(&reference_ctx, args.iterations).await?;

    // Sparkling local: one process, two executors.
    let work = processes::scratch("local");
    let local = Sparkling::local(&args.sparkling, &work, args.slots).await?;
    report.start_ups.push(StartUp {
        what: "`sparkling local` (scheduler, gateway, catalog, 2 executors)".into(),
        ms: ms(local.cold_start),
    });
    let idle = idle_memory(&local).await?;
    let spark = SparkSession::connect(&local.url).await?;
    prepare(&spark, &dir, &args.settings).await?;
    let with_settings = |setup: &str| {
        if args.settings.is_empty() {
            setup.to_string()
        } else {
            format!("{setup}; sessions with `{}`", args.settings.join("; "))
        }
    };
    let local_run = run_sparkling(
        "Sparkling local",
        &with_settings(&format!(
            "`sparkling local --executors 2 --slots {}`: one process with the scheduler, \
             the Spark Connect gateway, the catalog and two executors of {} \
             each; queries sent with the Rust SDK through the gateway, results streamed back",
            args.slots,
            task_slots(args.slots)
        )),
        &spark,
        args.iterations,
        &reference,
    )
    .await;
    report.memory.extend(memory_rows(
        |_| "Sparkling local (one process: scheduler, gateway, catalog, 2 executors)".into(),
        &idle,
        &local.memory(),
    ));
    let mut iceberg_result = None;
    if !args.tpch_only {
        report.latencies.push(
            latency(
                &spark,
                "Rust SDK -> Sparkling gateway: `SELECT 1` (answered by the gateway)",
                "select 1",
                args.latency_runs,
            )
            .await?,
        );
        report.latencies.push(
            latency(
                &spark,
                "Rust SDK -> Sparkling: `SELECT count(*) FROM region` (a distributed job)",
                "select count(*) from region",
                (args.latency_runs / 5).max(10),
            )
            .await?,
        );
        if let Some(python) = &args.python {
            let l = peers::connect_latency(python, Some(&local.url), args.latency_runs, 2)
                .context("PySpark client against Sparkling")?;
            report.latencies.push(Latency {
                what: "PySpark Connect client -> Sparkling gateway: `SELECT 1`".into(),
                runs: l.runs,
                p50_ms: l.p50_ms,
                p99_ms: l.p99_ms,
            });
        }
        iceberg_result = Some(
            iceberg::run(
                &spark,
                &reference_ctx,
                &dir,
                &work,
                &local_run,
                &reference.cells,
                args.iterations,
            )
            .await,
        );
        if let (Some(Ok(_)), Some(bootstrap)) = (&iceberg_result, &args.kafka) {
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
            report.streaming =
                Some(streaming::run(&spark, &args.sparkling, bootstrap, &sizes).await?);
        }
    }
    drop(spark);
    drop(local);
    let _ = std::fs::remove_dir_all(&work);
    if let Some(iceberg) = iceberg_result {
        report.iceberg = Some(iceberg?);
    }

    // Sparkling as a cluster: a scheduler and two executor processes.
    let work = processes::scratch("cluster");
    let cluster = Sparkling::cluster(&args.sparkling, &work, 2, args.slots).await?;
    report.start_ups.push(StartUp {
        what: "`sparkling scheduler` + 2 `sparkling executor` processes (both registered)".into(),
        ms: ms(cluster.cold_start),
    });
    let idle = idle_memory(&cluster).await?;
    let spark = SparkSession::connect(&cluster.url).await?;
    prepare(&spark, &dir, &args.settings).await?;
    let cluster_run = run_sparkling(
        "Sparkling cluster",
        &with_settings(&format!(
            "`sparkling scheduler` and two `sparkling executor --slots {}` processes on \
             loopback, shuffles over Arrow Flight; queries sent with the Rust SDK through the \
             gateway",
            args.slots
        )),
        &spark,
        args.iterations,
        &reference,
    )
    .await;
    let peak = cluster.memory();
    let rows = memory_rows(|role| format!("Sparkling {role} (cluster)"), &idle, &peak);
    let first_two =
        |f: fn(&MemoryRow) -> Option<u64>| -> Option<u64> { rows.iter().take(2).map(f).sum() };
    report.memory.push(MemoryRow {
        process: "**Sparkling scheduler + one idle executor** (cluster, two processes)".into(),
        idle_bytes: first_two(|r| r.idle_bytes),
        idle_pss_bytes: first_two(|r| r.idle_pss_bytes),
        idle_anon_bytes: first_two(|r| r.idle_anon_bytes),
        peak_bytes: None,
    });
    report.memory.extend(rows);
    drop(spark);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&work);

    report.engines = vec![local_run, cluster_run, datafusion];
    match &args.python {
        Some(python) => {
            // A peer that cannot run is reported, not allowed to lose Sparkling's figures.
            if let Err(e) = run_peers(&args, python, &dir, &reference, &mut report) {
                eprintln!("peers: {e:#}");
                report.skipped.push(format!("some peers failed: {e:#}"));
            }
        }
        None => report.skipped.push(
            "DuckDB, Spark local[2] and Spark Connect: no `--python` with duckdb and pyspark \
             given (`scripts/bench.sh` makes one)"
                .into(),
        ),
    }

    write_charts(&args.out, &mut report);
    std::fs::write(&args.out, report.markdown())?;
    eprintln!("wrote {}", args.out.display());
    let differs = report.engines.iter().any(|e| {
        e.queries
            .iter()
            .any(|q| q.as_ref().is_ok_and(|q| q.check.is_err()))
    });
    let iceberg_differs = report
        .iceberg
        .as_ref()
        .is_some_and(|i| i.timings.iter().any(|t| !t.3));
    if differs || iceberg_differs {
        bail!(
            "some answers differ between engines; see {}",
            args.out.display()
        );
    }
    Ok(())
}

fn run_peers(
    args: &Args,
    python: &Path,
    dir: &Path,
    reference: &Reference,
    report: &mut Report,
) -> anyhow::Result<()> {
    // Spark as a user would size it for the data: at SF1 4g and one shuffle partition
    // per core; above, with 4g it runs out of heap (SF10's q18 and q21 did), so half of
    // this machine's memory and partitions of about half a scale factor each.
    let (spark_memory, shuffle_partitions) = if args.scale > 1.0 {
        ("12g", (2.0 * args.scale).ceil() as usize)
    } else {
        ("4g", 2)
    };
    let tpch = |engine| {
        peers::run_tpch(
            python,
            &TpchRun {
                engine,
                data: dir,
                iterations: args.iterations,
                threads: 2,
                only: Vec::new(),
                spark_memory,
                shuffle_partitions,
            },
        )
        .with_context(|| format!("TPC-H on {engine}"))
    };
    let duckdb = tpch("duckdb")?;
    report.engines.push(peer_engine(
        "DuckDB",
        format!(
            "DuckDB {} in Python, `SET threads = 2`, views over the same Parquet files: the \
             single-node bound",
            duckdb.version
        ),
        &duckdb,
        reference,
    ));
    let spark = tpch("spark")?;
    report.engines.push(peer_engine(
        "Spark local[2]",
        format!(
            "Apache Spark {} (pip `pyspark`, Java 17) in `local[2]` mode, driver memory \
             {spark_memory}, `spark.sql.shuffle.partitions={shuffle_partitions}`, temp views \
             over the same files, PySpark classic API",
            spark.version
        ),
        &spark,
        reference,
    ));
    let connect = tpch("spark-connect")?;
    report.engines.push(peer_engine(
        "Spark Connect",
        format!(
            "Spark {}'s own Spark Connect server (`local[2]`, its own JVM, driver memory \
             {spark_memory}, `spark.sql.shuffle.partitions={shuffle_partitions}`), queried \
             with the PySpark Connect client",
            connect.version
        ),
        &connect,
        reference,
    ));
    report.start_ups.push(StartUp {
        what: "Spark local[2] session from pyspark (JVM start, session, 8 temp views)".into(),
        ms: spark.setup_ms,
    });
    for (name, run) in [
        ("DuckDB (the Python process)", &duckdb),
        ("Spark local[2] (the JVM)", &spark),
        ("Spark Connect server (the JVM)", &connect),
    ] {
        report.memory.push(MemoryRow {
            process: name.into(),
            idle_bytes: run.memory.map(|m| m.idle_rss_bytes),
            idle_pss_bytes: run.memory.and_then(|m| m.idle_pss_bytes),
            idle_anon_bytes: run.memory.and_then(|m| m.idle_anon_bytes),
            peak_bytes: run.memory.map(|m| m.peak_rss_bytes),
        });
    }
    if !args.tpch_only {
        let l = peers::connect_latency(python, None, args.latency_runs, 2)
            .context("PySpark client against Spark Connect")?;
        report.latencies.push(Latency {
            what: format!(
                "PySpark Connect client -> Spark {} Connect server: `SELECT 1`",
                l.version
            ),
            runs: l.runs,
            p50_ms: l.p50_ms,
            p99_ms: l.p99_ms,
        });
        if let Some(cold) = l.cold_start_ms {
            report.start_ups.push(StartUp {
                what: "Spark Connect server, `local[2]` (JVM start to first answer)".into(),
                ms: cold,
            });
        }
    }
    Ok(())
}

/// Writes the charts beside the report (`charts/<report name>-*.png`); a chart that
/// cannot be drawn is noted in the report instead.
fn write_charts(out: &Path, report: &mut Report) {
    let dir = out.parent().unwrap_or(Path::new(".")).join("charts");
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "benchmarks".into());
    if let Err(e) = std::fs::create_dir_all(&dir) {
        report.skipped.push(format!("charts: {e}"));
        return;
    }
    let scale = report.scale;
    type Draw<'a> = Box<dyn Fn(&Path) -> anyhow::Result<()> + 'a>;
    let charts: [(&str, &str, Draw); 3] = [
        (
            "tpch-totals",
            "TPC-H total per engine",
            Box::new(|p| sparkling_benches::charts::tpch_totals(p, &report.engines, scale)),
        ),
        (
            "tpch-queries",
            "TPC-H per query per engine",
            Box::new(|p| sparkling_benches::charts::tpch_queries(p, &report.engines, scale)),
        ),
        (
            "memory",
            "Resident memory per process",
            Box::new(|p| sparkling_benches::charts::memory(p, &report.memory)),
        ),
    ];
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for (name, title, draw) in charts {
        let file = format!("{stem}-{name}.png");
        match draw(&dir.join(&file)) {
            Ok(()) => written.push(Chart {
                title: title.into(),
                file: format!("charts/{file}"),
            }),
            Err(e) => failed.push(format!("chart {title}: {e}")),
        }
    }
    report.charts.extend(written);
    report.skipped.extend(failed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> anyhow::Result<Args> {
        parse_args(argv.iter().map(|a| a.to_string()))
    }

    #[test]
    fn flags_are_parsed_and_nonsense_is_refused() {
        let args = parse(&["--slots", "2", "--scale", "0.1", "--set", "a.b = 1"]).unwrap();
        assert_eq!(args.slots, 2);
        assert_eq!(args.scale, 0.1);
        assert_eq!(args.settings, ["SET a.b = 1"]);
        for (argv, error) in [
            (&["--slots", "0"][..], "--slots must be at least 1"),
            (
                &["--latency-runs", "0"],
                "--latency-runs must be at least 1",
            ),
            (&["--scale", "0"], "--scale must be above 0"),
            (&["--scale", "NaN"], "--scale must be above 0"),
            (&["--slots"], "--slots needs a value"),
            (&["--set", "nokey"], "expected KEY=VALUE"),
            (&["--bogus"], "unknown flag --bogus"),
        ] {
            let message = parse(argv).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(error), "{argv:?}: {message:?}");
        }
    }

    #[test]
    fn task_slots_reads_as_english() {
        assert_eq!(task_slots(1), "1 task slot");
        assert_eq!(task_slots(2), "2 task slots");
    }
}
