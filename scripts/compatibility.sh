#!/usr/bin/env bash
# Regenerates docs/compatibility.md: PySpark's own docstring examples run through
# Spark Connect on Spark 4.1's own server and on a Sparkling cluster (see
# tests/pyspark/doctests.py). Installs what it needs, as scripts/test.sh does.
#   scripts/compatibility.sh [--modules pyspark.sql.column ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
venv="${SPARKLING_VENV:-$HOME/.cache/sparkling-venv}"
if ! "$venv/bin/python" -c "import pyspark, pytest; assert pyspark.__version__ == '4.1.4'" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "pyspark[connect]==4.1.4" "pytest==8.4.2"
fi
if ! command -v java >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless
fi
cargo build --workspace --bins --features sparkling/fault-injection
SPARKLING_BIN="$CARGO_TARGET_DIR/debug/sparkling" "$venv/bin/python" tests/pyspark/doctests.py \
  --out docs/compatibility.md "$@"
