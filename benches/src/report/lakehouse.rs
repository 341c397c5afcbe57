//! The lakehouse and streaming sections of the report: Iceberg writes and reads,
//! Kafka -> Iceberg ingest.

use std::fmt::Write;

use super::{IcebergBench, StreamingBench};

pub(super) fn iceberg_markdown(md: &mut String, ice: &IcebergBench, iterations: usize) {
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
        iterations
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

pub(super) fn streaming_markdown(md: &mut String, s: &StreamingBench) {
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
