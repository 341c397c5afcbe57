#!/usr/bin/env bash
# Runs the benchmark harness and regenerates docs/benchmarks.md and its charts:
# TPC-H on Sparkling (`sparkling local` with 2 executors, and a scheduler with 2
# executor processes) beside DataFusion single-process, DuckDB, Spark local[2] and
# Spark Connect on the same Parquet files, every answer cross-checked; round-trip
# latency, start-up and memory vs Spark Connect; Iceberg writes and reads; and
# streaming ingest from a tansu Kafka broker. Installs what it needs: system packages,
# a Python venv with pyspark and duckdb (Java 17 for Spark comes from apt if missing),
# tansu.
#   scripts/bench.sh            # both of these (about an hour on 2 cores):
#   scripts/bench.sh --sf1      #   everything at SF1, best of 3 (docs/benchmarks.md)
#   scripts/bench.sh --sf10     #   TPC-H only at SF10, best of 1 (docs/benchmarks-sf10.md)
#   scripts/bench.sh --quick    # everything at SF0.1, best of 2 (a few minutes), written
#                               # to $CARGO_TARGET_DIR/bench-quick/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if ! command -v java >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
# The peers, outside the clone so later runs reuse them.
venv="${SPARKLING_BENCH_VENV:-$HOME/.cache/sparkling-bench-venv}"
if ! "$venv/bin/python" -c "import duckdb, pyspark, pyarrow, pandas, grpc" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "pyspark[connect]==4.0.1" "duckdb==1.4.2"
fi
cargo build --release -p sparkling -p sparkling-benches --bins
sf1=(--scale 1 --iterations 3 --latency-runs 1000 --out docs/benchmarks.md)
sf10=(--scale 10 --iterations 1 --tpch-only --out docs/benchmarks-sf10.md)
runs=()
case "${1:-}" in
  "") runs=(sf1 sf10) ;;
  --sf1) runs=(sf1) ;;
  --sf10) runs=(sf10) ;;
  --quick)
    # Not the published figures: written outside docs/.
    mkdir -p "$CARGO_TARGET_DIR/bench-quick"
    sf1=(--scale 0.1 --iterations 2 --latency-runs 200 --out "$CARGO_TARGET_DIR/bench-quick/benchmarks.md")
    runs=(sf1) ;;
  *) echo "usage: scripts/bench.sh [--quick|--sf1|--sf10]" >&2; exit 2 ;;
esac
cleanup=()
trap 'for stop in "${cleanup[@]}"; do "$stop"; done' EXIT
bench() {
  "$CARGO_TARGET_DIR/release/sparkling-bench" --sparkling "$CARGO_TARGET_DIR/release/sparkling" \
    --python "$venv/bin/python" --data benches/data "$@"
}
for run in "${runs[@]}"; do
  if [ "$run" = sf1 ]; then
    # Streaming ingest needs a broker; only the SF1 (or quick) run measures it.
    source scripts/kafka.sh
    start_test_kafka
    bench "${sf1[@]}" --kafka "$SPARKLING_TEST_KAFKA_BOOTSTRAP"
  else
    bench "${sf10[@]}"
  fi
done
