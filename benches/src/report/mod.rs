//! The benchmark report: figures, ratios and the machine they were measured on, as
//! the Markdown of `docs/benchmarks.md`.

use std::fmt::Write;
use std::time::Duration;

/// One TPC-H query's timings.
#[derive(Debug, Clone)]
pub struct QueryTiming {
    /// Query number.
    pub query: usize,
    /// DataFusion single-process, first run.
    pub datafusion_cold_ms: f64,
    /// DataFusion single-process, best warm run.
    pub datafusion_best_ms: f64,
    /// Sparkling, first run.
    pub sparkling_cold_ms: f64,
    /// Sparkling, best warm run.
    pub sparkling_best_ms: f64,
    /// Whether both engines gave the same answer.
    pub answers_match: bool,
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
    /// Per-query timings.
    pub timings: Vec<QueryTiming>,
    /// Round-trip latencies.
    pub latencies: Vec<Latency>,
    /// `sparkling local` start to first answer.
    pub cold_start_ms: f64,
    /// Iceberg writes and reads, if measured.
    pub iceberg: Option<IcebergBench>,
    /// Streaming ingest, if a broker was given.
    pub streaming: Option<StreamingBench>,
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
            "Generated by the harness (`scripts/bench.sh`); do not edit by hand.\n\n\
             - Date: {date}\n- Machine: {}\n- Sparkling {} (release build) on DataFusion 53.1 / Ballista 53.0\n\
             - TPC-H scale factor {}, Parquet, 4 files per table (generated with `tpchgen`)\n\
             - Sparkling: `sparkling local --executors 2` (one slot each on this machine), queries sent with the Rust SDK through the Spark Connect gateway, results streamed back\n\
             - DataFusion: single process, default configuration, same files, same process as the harness\n\
             - Times: best of {} warm runs after a cold first run (also shown); ratio = Sparkling / DataFusion (lower is better for Sparkling)\n",
            machine(),
            env!("CARGO_PKG_VERSION"),
            self.scale,
            self.iterations
        );
        let _ = writeln!(md, "## TPC-H\n");
        let _ = writeln!(
            md,
            "| query | DataFusion best (ms) | Sparkling best (ms) | ratio | DataFusion cold (ms) | Sparkling cold (ms) | answers |\n|---|---:|---:|---:|---:|---:|---|"
        );
        let (mut df, mut sp, mut dfc, mut spc) = (0.0, 0.0, 0.0, 0.0);
        for t in &self.timings {
            df += t.datafusion_best_ms;
            sp += t.sparkling_best_ms;
            dfc += t.datafusion_cold_ms;
            spc += t.sparkling_cold_ms;
            let _ = writeln!(
                md,
                "| q{} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {} |",
                t.query,
                t.datafusion_best_ms,
                t.sparkling_best_ms,
                t.sparkling_best_ms / t.datafusion_best_ms,
                t.datafusion_cold_ms,
                t.sparkling_cold_ms,
                if t.answers_match { "match" } else { "DIFFER" }
            );
        }
        let _ = writeln!(
            md,
            "| **total** | **{df:.1}** | **{sp:.1}** | **{:.2}** | {dfc:.1} | {spc:.1} | |\n",
            sp / df
        );
        let _ = writeln!(md, "## Latency and start-up\n");
        let _ = writeln!(
            md,
            "| round trip through the gateway | runs | p50 (ms) | p99 (ms) |\n|---|---:|---:|---:|"
        );
        for l in &self.latencies {
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} |",
                l.what, l.runs, l.p50_ms, l.p99_ms
            );
        }
        let _ = writeln!(
            md,
            "\n`sparkling local` (scheduler, gateway, 2 executors) from process start to its first answered query: **{:.0} ms**.\n",
            self.cold_start_ms
        );
        if let Some(ice) = &self.iceberg {
            self.iceberg_markdown(&mut md, ice);
        }
        match &self.streaming {
            Some(s) => streaming_markdown(&mut md, s),
            None => {
                let _ = writeln!(
                    md,
                    "## Streaming ingest\n\nNot measured in this run (no Kafka broker given).\n"
                );
            }
        }
        md
    }

    fn iceberg_markdown(&self, md: &mut String, ice: &IcebergBench) {
        let rate = |ms: f64| ice.lineitem_rows as f64 / (ms / 1000.0);
        let _ = writeln!(md, "## Iceberg tables\n");
        let _ = writeln!(
            md,
            "Writing `lineitem` ({} rows) partitioned by `{}` as zstd Parquet:\n",
            ice.lineitem_rows, ice.partitioned_by
        );
        let _ = writeln!(md, "| writer | time (ms) | rows/s |\n|---|---:|---:|");
        let _ = writeln!(
            md,
            "| Sparkling CTAS into an Iceberg table (2 executors, one snapshot) | {:.0} | {:.0} |",
            ice.sparkling_ctas_ms,
            rate(ice.sparkling_ctas_ms)
        );
        let _ = writeln!(
            md,
            "| DataFusion single-process `COPY ... PARTITIONED BY` (Parquet files only) | {:.0} | {:.0} |",
            ice.datafusion_copy_ms,
            rate(ice.datafusion_copy_ms)
        );
        let _ = writeln!(
            md,
            "| **ratio** (Sparkling / DataFusion time) | **{:.2}** | |\n",
            ice.sparkling_ctas_ms / ice.datafusion_copy_ms
        );
        let _ = writeln!(
            md,
            "TPC-H on Sparkling over the Iceberg copies of the tables (made by CTAS) vs over \
             the Parquet files (best of {}):\n",
            self.iterations
        );
        let _ = writeln!(
            md,
            "| query | Parquet (ms) | Iceberg (ms) | ratio | answers |\n|---|---:|---:|---:|---|"
        );
        let (mut p, mut i) = (0.0, 0.0);
        for (q, parquet, iceberg, ok) in &ice.timings {
            p += parquet;
            i += iceberg;
            let _ = writeln!(
                md,
                "| q{q} | {parquet:.1} | {iceberg:.1} | {:.2} | {} |",
                iceberg / parquet,
                if *ok { "match" } else { "DIFFER" }
            );
        }
        let _ = writeln!(
            md,
            "| **total** | **{p:.1}** | **{i:.1}** | **{:.2}** | |\n",
            i / p
        );
    }
}

fn streaming_markdown(md: &mut String, s: &StreamingBench) {
    let _ = writeln!(md, "## Streaming ingest (Kafka -> Iceberg)\n");
    let _ = writeln!(
        md,
        "JSON listen events from the event generator (`sparkling gen kafka`, {:.0} bytes each on \
         average) in a tansu 0.6 broker (in-memory storage, on this machine), {} partitions per \
         topic. The streaming queries parse them with `from_json` and write the streamify seed's \
         bronze table (`sha2` event id, `event_date` partition) on the same `sparkling local`; every \
         micro-batch is one job and one Iceberg snapshot. The producer uses librdkafka's default \
         record batching; every reader reads the same topics.\n",
        s.avg_record_bytes, s.partitions
    );
    let _ = writeln!(
        md,
        "| reader | events/s | vs raw consume |\n|---|---:|---:|"
    );
    let _ = writeln!(
        md,
        "| raw librdkafka consumer, one process (best of 2, {} events) | {:.0} | 1.00 |",
        s.backlog, s.raw_consume_rate
    );
    let _ = writeln!(
        md,
        "| Sparkling available-now query writing the same {} events into the table | {:.0} | **{:.2}** |\n",
        s.backlog,
        s.catch_up_rate,
        s.catch_up_rate / s.raw_consume_rate
    );
    let _ = writeln!(
        md,
        "Sustained ingest: while a processing-time query runs, the producer writes at half the \
         raw consume rate (the goal for Sparkling) or, if it cannot go that fast, at 90% of its \
         own full speed ({:.0} events/s here). *Ingest* is the mean rate from the first event \
         produced to the last one visible; *caught up* is how long after the producer stopped \
         the last event became visible; a query that keeps up catches up within about one \
         trigger interval plus one batch. Freshness is, per event, its Kafka timestamp (set when \
         produced) to the commit time of the snapshot that made it visible, both read back from \
         the table.\n",
        s.produce_rate
    );
    let _ = writeln!(
        md,
        "| trigger | producer | events | snapshots | ingest (events/s) | caught up after (s) | freshness p50 (ms) | freshness p99 (ms) |\n|---:|---|---:|---:|---:|---:|---:|---:|"
    );
    for l in &s.live {
        let _ = writeln!(
            md,
            "| {} s | {:.0}/s ({:.2} x raw) for {} s | {} | {} | {:.0} | {:.1} | {:.0} | {:.0} |",
            l.trigger_seconds,
            l.target_rate,
            l.target_rate / s.raw_consume_rate,
            l.seconds,
            l.events,
            l.commits,
            l.ingest_rate,
            l.catch_up_seconds,
            l.freshness_p50_ms,
            l.freshness_p99_ms
        );
    }
    let _ = writeln!(md);
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
