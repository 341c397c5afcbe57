//! The peer engines, run by the Python scripts in `benches/peers/` in the bench venv:
//! TPC-H on DuckDB, Spark local and Spark Connect (`tpch_peers.py`), and the round trip
//! of a trivial query through a Spark Connect server, Spark's or ours
//! (`connect_latency.py`). Each script writes one JSON document, read back here.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

/// A script in `benches/peers/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(name)
}

/// The directory of the 22 query files (`q1.sql` .. `q22.sql`).
pub fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tpch/queries")
}

/// Resident memory of a process, bytes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    /// After start-up, before the first query.
    pub idle_rss_bytes: u64,
    /// The same, counting pages shared with other processes pro rata (PSS).
    #[serde(default)]
    pub idle_pss_bytes: Option<u64>,
    /// The same, anonymous (private, not file-backed) pages only.
    #[serde(default)]
    pub idle_anon_bytes: Option<u64>,
    /// The high-water mark at the end of the run.
    pub peak_rss_bytes: u64,
}

/// One TPC-H query on a peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerQuery {
    /// Query number.
    pub query: usize,
    /// First run, ms.
    #[serde(default)]
    pub cold_ms: Option<f64>,
    /// Best warm run, ms.
    #[serde(default)]
    pub best_ms: Option<f64>,
    /// The answer of the last run.
    #[serde(default)]
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Why the query failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// A peer's TPC-H run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRun {
    /// `duckdb`, `spark` or `spark-connect`.
    pub engine: String,
    /// The engine's version.
    pub version: String,
    /// Threads (DuckDB) or local[N] cores (Spark).
    pub threads: usize,
    /// Start-up (connection, JVM, views), ms.
    pub setup_ms: f64,
    /// Per query, in the order run.
    pub queries: Vec<PeerQuery>,
    /// The engine's process (the JVM for Spark).
    #[serde(default)]
    pub memory: Option<Footprint>,
}

impl PeerRun {
    /// Query `n`, if run.
    pub fn query(&self, n: usize) -> Option<&PeerQuery> {
        self.queries.iter().find(|q| q.query == n)
    }
}

fn run_script(python: &Path, name: &str, args: &[String]) -> anyhow::Result<serde_json::Value> {
    let out = tempfile_path(name);
    let status = Command::new(python)
        .arg(script(name))
        .args(args)
        .arg("--out")
        .arg(&out)
        .status()
        .with_context(|| format!("running {} {name}", python.display()))?;
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    let text = std::fs::read_to_string(&out).with_context(|| format!("reading {name}'s output"))?;
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text).with_context(|| format!("parsing {name}'s output"))
}

fn tempfile_path(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "sparkling-peer-{}-{n}-{name}.json",
        std::process::id()
    ))
}

/// Options of a peer's TPC-H run.
#[derive(Debug, Clone)]
pub struct TpchRun<'a> {
    /// `duckdb`, `spark` or `spark-connect`.
    pub engine: &'a str,
    /// One folder of Parquet files per table.
    pub data: &'a Path,
    /// Warm runs after the cold one.
    pub iterations: usize,
    /// Threads or local[N].
    pub threads: usize,
    /// Only these queries (all 22 if empty).
    pub only: Vec<usize>,
    /// Spark's driver memory (`4g`).
    pub spark_memory: &'a str,
    /// Spark's `spark.sql.shuffle.partitions`.
    pub shuffle_partitions: usize,
}

/// Runs TPC-H on a peer with `python` (which must have the engine installed).
pub fn run_tpch(python: &Path, run: &TpchRun) -> anyhow::Result<PeerRun> {
    let mut args = vec![
        "--engine".to_string(),
        run.engine.to_string(),
        "--data".to_string(),
        run.data.display().to_string(),
        "--queries".to_string(),
        queries_dir().display().to_string(),
        "--iterations".to_string(),
        run.iterations.to_string(),
        "--threads".to_string(),
        run.threads.to_string(),
        "--spark-memory".to_string(),
        run.spark_memory.to_string(),
        "--shuffle-partitions".to_string(),
        run.shuffle_partitions.to_string(),
    ];
    if !run.only.is_empty() {
        args.push("--only".to_string());
        args.extend(run.only.iter().map(ToString::to_string));
    }
    let value = run_script(python, "tpch_peers.py", &args)?;
    Ok(serde_json::from_value(value)?)
}

/// Round trips of `SELECT 1` through a Spark Connect server, with the PySpark client.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectLatency {
    /// What answered: `spark-connect` (Spark's own server) or the URL given.
    pub server: String,
    /// PySpark's version (the client, and Spark's server).
    pub version: String,
    /// Spark's server: process start to first answer, ms.
    #[serde(default)]
    pub cold_start_ms: Option<f64>,
    /// Number of round trips.
    pub runs: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Spark's server JVM.
    #[serde(default)]
    pub memory: Option<Footprint>,
}

/// Measures the round trip through the server at `url`, or through a Spark Connect
/// server the script starts (`local[threads]`) when `url` is `None`.
pub fn connect_latency(
    python: &Path,
    url: Option<&str>,
    runs: usize,
    threads: usize,
) -> anyhow::Result<ConnectLatency> {
    let mut args = vec![
        "--runs".to_string(),
        runs.to_string(),
        "--threads".to_string(),
        threads.to_string(),
    ];
    if let Some(url) = url {
        args.push("--url".to_string());
        args.push(url.to_string());
    }
    let value = run_script(python, "connect_latency.py", &args)?;
    Ok(serde_json::from_value(value)?)
}

/// A process's memory now, from `/proc`, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcMemory {
    /// Resident set (`VmRSS`): includes the binary's code pages, which processes
    /// running the same binary share.
    pub rss: u64,
    /// The resident set's high-water mark (`VmHWM`).
    pub peak_rss: u64,
    /// Proportional set size: shared pages divided among the processes sharing them.
    pub pss: Option<u64>,
    /// Anonymous resident pages (`RssAnon`): heap and stacks, the process's own.
    pub anon: Option<u64>,
}

fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// The memory of process `pid`, if it is running.
pub fn memory_of(pid: u32) -> Option<ProcMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    Some(ProcMemory {
        rss: kb_field(&status, "VmRSS:")?,
        peak_rss: kb_field(&status, "VmHWM:")?,
        pss: kb_field(&rollup, "Pss:"),
        anon: kb_field(&status, "RssAnon:"),
    })
}
