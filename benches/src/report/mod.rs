//! The benchmark report: figures, ratios and the machine they were measured on, as
//! the Markdown of `docs/benchmarks.md` (TPC-H tables in [`tpch`], lakehouse and
//! streaming sections in [`lakehouse`]).

mod lakehouse;
mod tpch;

use std::fmt::Write;
use std::time::Duration;

/// One TPC-H query on one engine.
#[derive(Debug, Clone)]
pub struct QueryRun {
    /// The first run, ms.
    pub cold_ms: f64,
    /// The best warm run, ms.
    pub best_ms: f64,
    /// Whether the answer agrees with the reference engine's; where not, how it differs.
    pub check: Result<(), String>,
}

/// One engine's TPC-H run.
#[derive(Debug, Clone)]
pub struct EngineRun {
    /// Short name, a column heading (`Sparkling local`, `DuckDB`).
    pub name: String,
    /// How it ran, for the report's setup list.
    pub setup: String,
    /// Query n at index n - 1; `Err` with the error if the query failed.
    pub queries: Vec<Result<QueryRun, String>>,
}

impl EngineRun {
    /// Whether this is one of Sparkling's configurations.
    pub fn is_sparkling(&self) -> bool {
        self.name.starts_with("Sparkling")
    }

    /// Query `n`'s run, if it succeeded.
    pub fn query(&self, n: usize) -> Option<&QueryRun> {
        self.queries.get(n - 1).and_then(|q| q.as_ref().ok())
    }

    /// Sum of the best runs, if every query ran.
    pub fn total_best_ms(&self) -> Option<f64> {
        self.queries
            .iter()
            .map(|q| q.as_ref().ok().map(|q| q.best_ms))
            .sum()
    }

    /// Sum of the cold runs, if every query ran.
    pub fn total_cold_ms(&self) -> Option<f64> {
        self.queries
            .iter()
            .map(|q| q.as_ref().ok().map(|q| q.cold_ms))
            .sum()
    }
}

/// Resident memory of one process.
#[derive(Debug, Clone)]
pub struct MemoryRow {
    /// Which process, doing what.
    pub process: String,
    /// After start-up, before any query, bytes (RSS).
    pub idle_bytes: Option<u64>,
    /// The same as PSS: pages shared with other processes (the binary's code) divided
    /// among them.
    pub idle_pss_bytes: Option<u64>,
    /// The same, anonymous pages only (heap and stacks).
    pub idle_anon_bytes: Option<u64>,
    /// The high-water mark after the TPC-H run, bytes.
    pub peak_bytes: Option<u64>,
}

/// Process start to first answer.
#[derive(Debug, Clone)]
pub struct StartUp {
    /// What was started.
    pub what: String,
    /// Milliseconds.
    pub ms: f64,
}

/// A PNG chart written beside the report.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Alt text and caption.
    pub title: String,
    /// Path relative to the report.
    pub file: String,
}

/// Percentiles of a latency series.
#[derive(Debug, Clone)]
pub struct Latency {
    /// What was measured.
    pub what: String,
    /// Number of samples.
    pub runs: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

impl Latency {
    /// Percentiles of `samples` (sorted in place).
    pub fn from_samples(what: &str, samples: &mut [Duration]) -> Self {
        samples.sort();
        let pick = |q: f64| {
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples
                .get(i)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN)
        };
        Self {
            what: what.to_string(),
            runs: samples.len(),
            p50_ms: pick(0.5),
            p99_ms: pick(0.99),
        }
    }
}

/// The lakehouse benchmark: writing and reading Iceberg tables.
#[derive(Debug, Clone)]
pub struct IcebergBench {
    /// Rows of `lineitem`.
    pub lineitem_rows: u64,
    /// What the CTAS partitions by.
    pub partitioned_by: String,
    /// Sparkling: `CREATE TABLE ... PARTITIONED BY ... AS SELECT * FROM lineitem`.
    pub sparkling_ctas_ms: f64,
    /// DataFusion single-process: `COPY ... PARTITIONED BY ...` to zstd Parquet.
    pub datafusion_copy_ms: f64,
    /// Per query: (query, Parquet best, Iceberg best, Iceberg answer matches).
    pub timings: Vec<(usize, f64, f64, bool)>,
}

/// One sustained streaming run: a producer at a fixed rate, a processing-time query.
#[derive(Debug, Clone)]
pub struct LiveIngest {
    /// The trigger interval.
    pub trigger_seconds: u64,
    /// How long the producer ran.
    pub seconds: u64,
    /// The producer's rate, events/s.
    pub target_rate: f64,
    /// Events produced (and found in the table, each once).
    pub events: u64,
    /// Snapshots the query committed.
    pub commits: usize,
    /// Events per second from the first event produced to the last one visible.
    pub ingest_rate: f64,
    /// Seconds from the producer's end to the commit of the last event.
    pub catch_up_seconds: f64,
    /// Event produced -> visible in the table, median, ms.
    pub freshness_p50_ms: f64,
    /// The same, 99th percentile.
    pub freshness_p99_ms: f64,
}

/// The streaming ingest benchmark (Kafka -> Iceberg).
#[derive(Debug, Clone)]
pub struct StreamingBench {
    /// Partitions of each topic.
    pub partitions: i32,
    /// Events in the backlog topic.
    pub backlog: u64,
    /// Mean JSON record size, bytes.
    pub avg_record_bytes: f64,
    /// `sparkling gen kafka` at full speed, events/s.
    pub produce_rate: f64,
    /// One librdkafka consumer reading the backlog, events/s.
    pub raw_consume_rate: f64,
    /// An available-now query draining the backlog into a table, events/s.
    pub catch_up_rate: f64,
    /// Sustained runs, one per trigger interval.
    pub live: Vec<LiveIngest>,
}

/// Everything one harness run measured.
pub struct Report {
    /// TPC-H scale factor.
    pub scale: f64,
    /// Warm runs per query.
    pub iterations: usize,
    /// TPC-H per engine; the first is the one ratios are taken from.
    pub engines: Vec<EngineRun>,
    /// The engine whose answers the others are checked against.
    pub reference: String,
    /// Round-trip latencies.
    pub latencies: Vec<Latency>,
    /// Start to first answer, per server.
    pub start_ups: Vec<StartUp>,
    /// Resident memory per process.
    pub memory: Vec<MemoryRow>,
    /// Peers (or parts) not run, and why.
    pub skipped: Vec<String>,
    /// Iceberg writes and reads, if measured.
    pub iceberg: Option<IcebergBench>,
    /// Streaming ingest, if a broker was given.
    pub streaming: Option<StreamingBench>,
    /// Charts to embed.
    pub charts: Vec<Chart>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB RAM")
}

impl Report {
    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Generated by the harness (`scripts/bench.sh`); do not edit by hand. \
             [performance.md](performance.md) explains the figures.\n\n\
             - Date: {date}\n- Machine: {}\n- Sparkling {} (release build) on DataFusion 53.1 / Ballista 53.0\n\
             - TPC-H scale factor {}, Parquet, 4 files per table (generated with `tpchgen`), the same files for every engine\n\
             - Times: best of {} warm runs after a cold first run; every engine runs the same 22 query files\n\
             - Answers: every engine's answer to every query is checked against {}'s \
             (numbers to a cent or one part in 10^9, rows in any order)",
            machine(),
            env!("CARGO_PKG_VERSION"),
            self.scale,
            self.iterations,
            self.reference,
        );
        for e in &self.engines {
            let _ = writeln!(md, "- **{}**: {}", e.name, e.setup);
        }
        for s in &self.skipped {
            let _ = writeln!(md, "- Not run: {s}");
        }
        let _ = writeln!(md);
        for c in &self.charts {
            let _ = writeln!(md, "![{}]({})\n", c.title, c.file);
        }
        tpch::markdown(&mut md, &self.engines);
        self.latency_markdown(&mut md);
        if let Some(ice) = &self.iceberg {
            lakehouse::iceberg_markdown(&mut md, ice, self.iterations);
        }
        match &self.streaming {
            Some(s) => lakehouse::streaming_markdown(&mut md, s),
            None => {
                let _ = writeln!(
                    md,
                    "## Streaming ingest\n\nNot measured in this run (no Kafka broker given).\n"
                );
            }
        }
        md
    }

    fn latency_markdown(&self, md: &mut String) {
        let _ = writeln!(md, "## Latency, start-up and memory\n");
        let _ = writeln!(
            md,
            "| round trip | runs | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|"
        );
        for l in &self.latencies {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} |",
                l.what, l.runs, l.p50_ms, l.p99_ms
            );
        }
        let _ = writeln!(md, "\n| process start to first answer | ms |\n|---|---:|");
        for s in &self.start_ups {
            let _ = writeln!(md, "| {} | {:.0} |", s.what, s.ms);
        }
        let _ = writeln!(
            md,
            "\nMemory from `/proc`: idle is after start-up and one trivial query; peak is the \
             resident set's high-water mark after the TPC-H run. RSS counts the binary's code \
             pages in every process that maps them (Sparkling's processes run one binary and \
             share them); PSS divides shared pages among their processes; anonymous is the \
             process's own heap and stacks.\n"
        );
        let _ = writeln!(
            md,
            "| process | idle RSS (MiB) | idle PSS (MiB) | idle anonymous (MiB) | peak RSS (MiB) |\n\
             |---|---:|---:|---:|---:|"
        );
        let mib = |b: Option<u64>| {
            b.map(|b| format!("{:.0}", b as f64 / 1048576.0))
                .unwrap_or_else(|| "-".into())
        };
        for m in &self.memory {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                m.process,
                mib(m.idle_bytes),
                mib(m.idle_pss_bytes),
                mib(m.idle_anon_bytes),
                mib(m.peak_bytes)
            );
        }
        let _ = writeln!(md);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let l = Latency::from_samples("x", &mut samples);
        assert_eq!((l.p50_ms.round(), l.p99_ms.round()), (51.0, 99.0));
    }
}
