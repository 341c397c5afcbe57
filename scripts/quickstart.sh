#!/usr/bin/env bash
# Builds Sparkling, starts `sparkling local` (scheduler, gateway and two executors in
# one process), runs examples/quickstart.sql through the Spark Connect gateway, stops.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
cargo build --bin sparkling
bin="$CARGO_TARGET_DIR/debug/sparkling"
# The example writes its dataset afresh each run (COPY adds files to a directory).
rm -rf spark-warehouse/quickstart_trips
port="${SPARKLING_CONNECT_PORT:-15002}"
log="$(mktemp)"
"$bin" local --executors 2 --connect-port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  grep -q "ready" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"
"$bin" sql --remote "sc://127.0.0.1:$port" -f examples/quickstart.sql
