#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit tests and the end-to-end tests
# (which start a real scheduler, executors and Iceberg catalog as separate processes on
# loopback ports and generate their TPC-H data themselves). Installs what the build
# and the tests need first: system packages, a Python venv with pyiceberg (the
# independent Iceberg client the catalog tests use, and DuckDB), a throwaway PostgreSQL server and
# a throwaway Garage S3 server and a tansu Kafka broker (both built with cargo the
# first time).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
# pyiceberg (and DuckDB, which checks the demo pipeline's tables independently),
# outside the clone so CI on this machine reuses them.
venv="${SPARKLING_VENV:-$HOME/.cache/sparkling-venv}"
# The PySpark suite (tests/pyspark) uses the pip `pyspark` client and Spark's own
# Connect server from the same package, which needs Java 17.
if ! "$venv/bin/python" -c "import pyiceberg, pyarrow, pyiceberg_core, duckdb, pyspark, pytest; assert pyspark.__version__ == '4.1.4'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "pyiceberg[pyarrow,pyiceberg-core]==0.12.0" "duckdb==1.4.2" \
    "pyspark[connect]==4.1.4" "pytest==8.4.2"
fi
if ! command -v java >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless
fi
export SPARKLING_TEST_PYTHON="$venv/bin/python"
# Servers the tests use; each start function registers its shutdown here.
cleanup=()
trap 'for stop in "${cleanup[@]}"; do "$stop"; done' EXIT
source scripts/postgres.sh
start_test_postgres
source scripts/garage.sh
start_test_garage
source scripts/kafka.sh
start_test_kafka
export SPARKLING_TEST_REQUIRE_SERVICES=1
cargo fmt --all -- --check
# `fault-injection` compiles in the scheduler's test-only crash switches.
cargo clippy --workspace --all-targets --features sparkling/fault-injection -- -D warnings
cargo test --workspace --features sparkling/fault-injection
# PySpark programs on a Sparkling cluster and on Spark's own Connect server, compared.
SPARKLING_BIN="$CARGO_TARGET_DIR/debug/sparkling" "$venv/bin/python" -m pytest -q tests/pyspark
# The docker compose cluster (deploy/), on this machine's Docker engine when it has one.
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  bash deploy/test.sh
else
  echo "SKIPPED deploy/test.sh (the docker compose cluster): no Docker engine answers here"
fi
