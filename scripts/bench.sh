#!/usr/bin/env bash
# Runs the benchmark harness and regenerates docs/benchmarks.md:
# TPC-H on `sparkling local` (2 executors) vs DataFusion single-process on the same
# Parquet files, plus gateway round-trip latency and cold start, Iceberg writes and
# reads, and streaming ingest from a tansu Kafka broker (installed and started here).
#   scripts/bench.sh            # SF1, best of 3
#   scripts/bench.sh --quick    # SF0.1, best of 2, 200 latency runs (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
cargo build --release -p sparkling -p sparkling-benches --bins
args=(--scale 1 --iterations 3 --latency-runs 1000)
if [ "${1:-}" = "--quick" ]; then
  args=(--scale 0.1 --iterations 2 --latency-runs 200)
fi
cleanup=()
trap 'for stop in "${cleanup[@]}"; do "$stop"; done' EXIT
source scripts/kafka.sh
start_test_kafka
"$CARGO_TARGET_DIR/release/sparkling-bench" --sparkling "$CARGO_TARGET_DIR/release/sparkling" \
  --kafka "$SPARKLING_TEST_KAFKA_BOOTSTRAP" --data benches/data --out docs/benchmarks.md "${args[@]}"
