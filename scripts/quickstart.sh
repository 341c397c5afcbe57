#!/usr/bin/env bash
# The README's main command: builds Sparkling, starts `sparkling local` (scheduler,
# gateway, two executors and the Iceberg REST catalog in one process, tables under
# spark-warehouse/, catalog and job state under metadata/), submits the streamify demo
# pipeline (examples/streamify: generated events -> bronze streaming tables -> silver
# -> gold daily aggregates), prints the gold tables and stops. Running it again runs
# the pipeline's update again: nothing new to stream, the same gold tables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
cargo build --bin sparkling
bin="$CARGO_TARGET_DIR/debug/sparkling"
port="${SPARKLING_CONNECT_PORT:-15002}"
log="$(mktemp)"
# HTTP port 0: any free port (read back from the ready lines), so a busy 8080 is fine.
"$bin" local --executors 2 --connect-port "$port" --http-port 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  grep -q "press Ctrl-C" "$log" && break
  kill -0 $pid 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"
http="$(sed -n 's/^  HTTP *//p' "$log" | sed -n 1p)"
"$bin" submit examples/streamify/spark-pipeline.yml --master "$http" --wait
remote="sc://127.0.0.1:$port"
show() {
  echo
  echo "== $1"
  "$bin" sql --remote "$remote" "$2"
}
show "gold_top_songs_daily (top 5 per day)" \
  "SELECT event_date, rank, song, artist, plays, listeners FROM streamify.gold_top_songs_daily WHERE rank <= 5 ORDER BY event_date, rank"
show "gold_top_artists_daily (top 5 per day)" \
  "SELECT event_date, rank, artist, plays, listeners FROM streamify.gold_top_artists_daily WHERE rank <= 5 ORDER BY event_date, rank"
show "gold_active_users_daily" \
  "SELECT event_date, level, active_users, page_views FROM streamify.gold_active_users_daily ORDER BY event_date, level"
show "gold_sessions_per_user_daily (busiest 5 users per day)" \
  "SELECT session_date, user_id, sessions, page_views, round(avg_session_seconds / 60, 1) AS avg_session_minutes FROM (SELECT *, row_number() OVER (PARTITION BY session_date ORDER BY sessions DESC, user_id) AS r FROM streamify.gold_sessions_per_user_daily) WHERE r <= 5 ORDER BY session_date, sessions DESC, user_id"
