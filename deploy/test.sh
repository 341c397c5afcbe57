#!/usr/bin/env bash
# End-to-end test of the docker compose cluster (deploy/compose.yaml) on this machine's
# Docker engine, driven from the host as a user would:
#   1. the Debian base image the Dockerfile names, made with debootstrap (this engine
#      cannot pull images), and the Sparkling image, built from a `sparkling` binary
#      built on this host (the Dockerfile's `prebuilt` stage; its `runtime` stage builds
#      from source but starts from the Rust image, which cannot be pulled here);
#   2. catalog, scheduler and two executors up with docker-compose, in order (health
#      checks), the auth token from an env file;
#   3. TPC-H SF0.1 through sc://127.0.0.1:15002, every answer checked against DuckDB;
#   4. an Iceberg table created and filled, read back with pyiceberg through port 8181;
#   5. a SQL job submitted over REST (`sparkling submit --wait`);
#   6. an executor killed (docker kill) during a query: the answer is still right;
#   7. executors scaled up to 3 and down to 1, queries answered at each size;
#   8. the scheduler killed and started again: executors register again, the table,
#      the catalog and the finished job are intact, new jobs run;
#   9. requests without the token, or with a wrong one, refused on every published port;
#  10. the streaming profile: a tansu broker (image from a tansu binary built on this
#      host), events produced by `sparkling gen kafka` in a container, a streaming
#      table over them, every event in it once;
#  11. the S3 overlay (deploy/compose.s3.yaml) against a Garage S3 server in a container
#      (image from a garage binary built on this host): the services restart with the
#      warehouse in a bucket, a new table's files land there (listed and read with
#      pyarrow from the host), the tables of the local warehouse still answer;
#  12. everything torn down: no containers, networks or volumes left, and the images it
#      built removed (the base image too, when this run made it).
#
#   deploy/test.sh [--keep]    --keep leaves the cluster and images for a look
# Environment: SPARKLING_BIN (default: the debug build), SPARKLING_VENV (Python venv
# with pyiceberg and duckdb; made if missing), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sparkling-target}"
project=sparkling-test
image=sparkling-test:latest
kafka_image=sparkling-tansu-test:latest
garage_image=sparkling-garage-test:latest
base=debian:bookworm-slim

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# --- what the test runs on the host: the binary (also the client) and Python ---------
bin="${SPARKLING_BIN:-$CARGO_TARGET_DIR/debug/sparkling}"
if [ ! -x "$bin" ]; then
  step "building sparkling"
  cargo build --workspace --bins
fi
venv="${SPARKLING_VENV:-$HOME/.cache/sparkling-venv}"
if ! "$venv/bin/python" -c "import pyiceberg, pyarrow, duckdb" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "pyiceberg[pyarrow,pyiceberg-core]==0.12.0" "duckdb==1.4.2"
fi
[ -x "$venv/bin/tpchgen-cli" ] || "$venv/bin/pip" install -q "tpchgen-cli==4.0.0"
py="$venv/bin/python"

# Compose: the plugin (`docker compose`) or the standalone docker-compose, installed
# from Debian's packages when neither is here; objcopy strips the binary.
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  if ! command -v docker-compose >/dev/null 2>&1 || ! command -v objcopy >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose binutils
  fi
  compose_cmd=(docker-compose)
fi

work="$(mktemp -d /tmp/sparkling-deploy.XXXXXX)"
chmod 755 "$work"
token="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
remote="sc://127.0.0.1:15002/;token=$token"
http=http://127.0.0.1:8080
made_base=0
built=0
s3=0

compose() { "${compose_cmd[@]}" -p "$project" -f deploy/compose.yaml --env-file "$work/sparkling.env" "$@"; }
compose_s3() { compose -f deploy/compose.s3.yaml -f deploy/test/compose.garage.yaml "$@"; }
api() { curl -fsS -H "Authorization: Bearer $token" "$http$1"; }
sql() { "$bin" sql --remote "$remote" "$@"; }

teardown() {
  local status=$?
  if [ $status -ne 0 ] && [ $built = 1 ]; then
    echo "--- cluster logs (last 60 lines per container)" >&2
    compose logs --no-color --tail 60 >&2 || true
  fi
  if [ $keep = 1 ]; then
    echo "left running (--keep): docker-compose -p $project -f deploy/compose.yaml --env-file $work/sparkling.env down -v"
    exit $status
  fi
  step "teardown"
  if [ $s3 = 1 ]; then down=(compose_s3); else down=(compose); fi
  "${down[@]}" --profile streaming down -v --remove-orphans -t 5 2>&1 | grep -v '^Network\|^Removing\|^Stopping' || true
  # The warehouse holds files of the containers' user; remove them as that user.
  if [ $built = 1 ]; then
    docker run --rm --user 0 --entrypoint rm -v "$work:/w" "$image" -rf /w/warehouse >/dev/null 2>&1 || true
    docker image rm -f "$image" "$kafka_image" "$garage_image" >/dev/null 2>&1 || true
  fi
  [ $made_base = 1 ] && docker image rm -f "$base" >/dev/null 2>&1 || true
  rm -rf "$work" 2>/dev/null || true
  left="$(docker ps -aq --filter "label=com.docker.compose.project=$project")$(docker volume ls -q --filter "label=com.docker.compose.project=$project")$(docker network ls -q --filter "label=com.docker.compose.project=$project")"
  if [ -n "$left" ]; then
    echo "FAILED: left behind: $left" >&2
    status=1
  else
    echo "nothing left behind"
  fi
  exit $status
}
trap teardown EXIT

# Waits up to $2 seconds for a command to succeed.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  fail "timed out after ${seconds}s waiting for $what"
}
# The number of executors that heartbeat within the last 10 s.
live_executors() {
  api /api/v1/cluster | "$py" -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["executors"] if (e["lastHeartbeatAgeMs"] or 0) < 10000))'
}
executors_are() { [ "$(live_executors)" = "$1" ]; }
running_tasks() { [ "$(api /api/v1/cluster | "$py" -c 'import json,sys; print(json.load(sys.stdin)["runningTasks"])')" -gt 0 ]; }
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
# (sed reads all its input: a reader that quits early, like head, can kill the writer
# with SIGPIPE, which pipefail turns into a failure of the whole script.)
container() { compose ps -q "$1" | sed -n "${2:-1}p"; }
# Builds the image of SERVICE, whose Dockerfile copies the host binary deploy/.bin/NAME:
# puts FILE there for the build only. The rest of the arguments are the compose command.
build_with_binary() {
  local name="$1" file="$2" service="$3"
  shift 3
  mkdir -p deploy/.bin
  cp "$file" "deploy/.bin/$name"
  chmod 755 "deploy/.bin/$name"
  "$@" build --quiet "$service" 2>&1 | tail -5
  rm -f "deploy/.bin/$name"
}

# --- 1. images -----------------------------------------------------------------------
step "images"
docker image inspect "$base" >/dev/null 2>&1 || made_base=1
bash deploy/base-image.sh "$base"
objcopy --strip-debug "$bin" "$work/sparkling"
{
  echo "SPARKLING_AUTH_TOKEN=$token"
  echo "SPARKLING_IMAGE=$image"
  echo "SPARKLING_KAFKA_IMAGE=$kafka_image"
  echo "SPARKLING_IMAGE_TARGET=prebuilt"
  echo "SPARKLING_WAREHOUSE_DIR=$work/warehouse"
  echo "SPARKLING_DATA_DIR=$work/data"
  echo "SPARKLING_PUBLISH_ADDR=127.0.0.1"
  echo "SPARKLING_EXECUTOR_SLOTS=2"
} >"$work/sparkling.env"
built=1
build_with_binary sparkling "$work/sparkling" scheduler compose
rm -f "$work/sparkling"
docker image inspect "$image" >/dev/null || fail "the image was not built"
[ "$(docker run --rm --entrypoint id "$image" -u)" != 0 ] || fail "the image runs as root"

# --- 2. up ---------------------------------------------------------------------------
step "up: catalog, scheduler, 2 executors"
mkdir -p "$work/warehouse" "$work/data"
chown 10001:10001 "$work/warehouse"
"$venv/bin/tpchgen-cli" parquet -s 0.1 --parts 2 --output-dir "$work/data/tpch" >/dev/null
chmod -R a+rX "$work/data"
compose up -d --scale executor=2
wait_for "the scheduler to be healthy" 60 healthy "$(container scheduler)"
wait_for "2 executors" 60 executors_are 2
[ "$(sql --format csv "SELECT 1 AS one" | tail -1)" = 1 ] || fail "SELECT 1"

# --- 3. TPC-H ------------------------------------------------------------------------
step "TPC-H SF0.1 through $remote (as sc://127.0.0.1:15002/;token=...)"
tpch() {
  "$py" deploy/test/tpch_check.py --sparkling "$bin" --remote "$remote" --data "$work/data/tpch" \
    --cluster-data /data/tpch --queries benches/tpch/queries "$@"
}
tpch --create

# --- 4. Iceberg ----------------------------------------------------------------------
step "Iceberg table, read back with pyiceberg"
sql "CREATE TABLE default.deploy_orders AS SELECT o_orderpriority AS priority, count(*) AS orders FROM orders GROUP BY o_orderpriority" >/dev/null
sql "INSERT INTO default.deploy_orders VALUES ('6-TEST', 42)" >/dev/null
iceberg_rows() {
  "$py" deploy/test/iceberg_read.py --uri http://127.0.0.1:8181 --token "$token" --table default.deploy_orders
}
read_back="$(iceberg_rows)"
echo "$read_back" | "$py" -c '
import json, sys
t = json.load(sys.stdin)
rows = {r["priority"]: r["orders"] for r in t["rows"]}
assert len(rows) == 6 and rows["6-TEST"] == 42, rows
assert sum(v for k, v in rows.items() if k != "6-TEST") == 150000, rows
assert t["snapshots"] == 2, t["snapshots"]
print("pyiceberg reads", len(rows), "rows in", t["snapshots"], "snapshots")'

# --- 5. REST submission --------------------------------------------------------------
step "job over REST"
cat >"$work/job.sql" <<'SQL'
CREATE TABLE default.deploy_job AS SELECT n_regionkey AS region, count(*) AS nations FROM nation GROUP BY n_regionkey;
INSERT INTO default.deploy_job SELECT region + 10, nations FROM default.deploy_job;
SQL
"$bin" submit --master "$http" --token "$token" --name deploy-test --wait "$work/job.sql" | tee "$work/submit.out"
job="$(grep -m 1 -o 'driver-[0-9]*-[0-9]*' "$work/submit.out")"
[ -n "$job" ] || fail "no submission id"
[ "$(sql --format csv "SELECT count(*) AS n, sum(nations) AS s FROM default.deploy_job" | tail -1)" = "10,50" ] \
  || fail "the submitted job's table is wrong"

# --- 6. an executor killed during a query --------------------------------------------
step "docker kill of an executor during TPC-H queries"
# A series of the heavier queries, so the kill lands inside one of them.
tpch --only 21,18,9,21,18,9 >"$work/killed.out" 2>&1 &
query=$!
wait_for "the queries to run tasks" 60 running_tasks
victim="$(container executor 1)"
docker kill "$victim" >/dev/null
echo "killed executor container ${victim:0:12}"
wait "$query" || { cat "$work/killed.out"; fail "TPC-H answers after an executor was killed"; }
cat "$work/killed.out"
reruns="$(compose logs --no-color scheduler | grep -c 'running the job again' || true)"
echo "jobs run again after the kill: $reruns"

# --- 7. scale up and down ------------------------------------------------------------
step "scale executors to 3, then 1"
compose up -d --no-recreate --scale executor=3 2>&1 | grep -v 'is up-to-date' || true
wait_for "3 executors" 90 executors_are 3
tpch --only 3,9
compose up -d --no-recreate --scale executor=1 2>&1 | grep -v 'is up-to-date' || true
wait_for "1 executor" 90 executors_are 1
tpch --only 5

# --- 8. the scheduler killed and started again ---------------------------------------
step "scheduler killed and started again"
scheduler="$(container scheduler)"
docker kill "$scheduler" >/dev/null
docker start "$scheduler" >/dev/null
wait_for "the scheduler to be healthy again" 60 healthy "$scheduler"
wait_for "the executor to register again" 60 executors_are 1
state="$(api "/v1/submissions/status/$job" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["driverState"])')"
[ "$state" = FINISHED ] || fail "job $job is $state after the restart"
[ "$(iceberg_rows)" = "$read_back" ] || fail "the Iceberg table changed across the restart"
[ "$(sql --format csv "SELECT count(*) FROM default.deploy_job" | tail -1)" = 10 ] || fail "default.deploy_job after the restart"
tpch --create --only 1

# --- 9. the token --------------------------------------------------------------------
step "clients without the token are refused"
for url in "$http/api/v1/cluster" "$http/v1/submissions/status/$job" http://127.0.0.1:8181/v1/config \
    http://127.0.0.1:8181/v1/namespaces; do
  for header in "" "Authorization: Bearer wrong"; do
    code="$(curl -s -o /dev/null -w '%{http_code}' ${header:+-H "$header"} "$url")"
    [ "$code" = 401 ] || fail "$url answered $code without a valid token"
  done
done
if "$bin" sql --remote sc://127.0.0.1:15002 "SELECT 1" >"$work/refused.out" 2>&1; then
  fail "the gateway answered without a token"
fi
grep -qi "token\|unauthenticated" "$work/refused.out" || { cat "$work/refused.out"; fail "no clear error without a token"; }
if "$bin" sql --remote "sc://127.0.0.1:15002/;token=wrong" "SELECT 1" >/dev/null 2>&1; then
  fail "the gateway answered a wrong token"
fi
echo "refused: HTTP 401 on 8080 and 8181, Unauthenticated on 15002"

# --- 10. the streaming profile ---------------------------------------------------------
step "streaming profile: events from a tansu broker into a streaming table"
# shellcheck source=scripts/kafka.sh
source scripts/kafka.sh
install_tansu
build_with_binary tansu "$HOME/.cargo/bin/tansu" kafka compose --profile streaming
compose --profile streaming up -d kafka
wait_for "the broker to be healthy" 60 healthy "$(container kafka)"
compose run --rm --no-deps scheduler gen kafka --bootstrap kafka:9092 --topic deploy_events \
  --partitions 2 --count 1000 --no-wait
sql "SET spark.sparkling.streaming.trigger = 'availableNow';
CREATE STREAMING TABLE default.deploy_events AS
SELECT CAST(value AS STRING) AS event, partition, \"offset\"
FROM STREAM(read_kafka(bootstrapServers => 'kafka:9092', subscribe => 'deploy_events',
                       startingOffsets => 'earliest'))" >/dev/null
counts="$(sql --format csv "SELECT count(*) AS n, count(DISTINCT concat(partition, '/', \"offset\")) AS records FROM default.deploy_events" | tail -1)"
[ "$counts" = "1000,1000" ] || fail "the streaming table holds $counts (rows, distinct records), not 1000,1000"
echo "1000 events in default.deploy_events, each once"

# --- 11. the S3 overlay ----------------------------------------------------------------
step "S3 overlay: the warehouse in a Garage bucket"
# shellcheck source=scripts/garage.sh
source scripts/garage.sh
install_garage
garage_config /var/lib/garage 0.0.0.0:3901 127.0.0.1:3901 0.0.0.0:3900 >"$work/garage.toml"
chmod 644 "$work/garage.toml"
# Placeholders until the key exists (compose checks every variable of every service).
{
  echo "SPARKLING_GARAGE_IMAGE=$garage_image"
  echo "SPARKLING_GARAGE_CONFIG=$work/garage.toml"
  echo "SPARKLING_S3_WAREHOUSE=s3://warehouse/lake"
  echo "AWS_ENDPOINT_URL=http://garage:3900"
  echo "AWS_REGION=garage"
} >>"$work/sparkling.env"
cp "$work/sparkling.env" "$work/sparkling.env.base"
printf 'AWS_ACCESS_KEY_ID=pending\nAWS_SECRET_ACCESS_KEY=pending\n' >>"$work/sparkling.env"
s3=1
build_with_binary garage "$(command -v garage)" garage compose_s3
compose_s3 up -d --no-deps garage
garage_container="$(compose_s3 ps -q garage)"
wait_for "Garage to be healthy" 60 healthy "$garage_container"
garage_bootstrap deploy-test docker exec "$garage_container" /usr/local/bin/garage -c /etc/garage.toml \
  || fail "could not set up the Garage container"
key_id="$GARAGE_KEY_ID"
secret="$GARAGE_SECRET"
cp "$work/sparkling.env.base" "$work/sparkling.env"
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' "$key_id" "$secret" >>"$work/sparkling.env"
# The services are recreated with the overlay's settings, in order.
compose_s3 up -d --scale executor=2 catalog scheduler executor
wait_for "the scheduler to be healthy with S3" 90 healthy "$(container scheduler)"
wait_for "2 executors with S3" 90 executors_are 2
sql "CREATE TABLE default.deploy_s3 AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS t(id, name)" >/dev/null
sql "INSERT INTO default.deploy_s3 VALUES (4, 'd')" >/dev/null
[ "$(sql --format csv "SELECT count(*), sum(id) FROM default.deploy_s3" | tail -1)" = "4,10" ] \
  || fail "default.deploy_s3 through the cluster"
location="$(curl -fsS -H "Authorization: Bearer $token" http://127.0.0.1:8181/v1/namespaces/default/tables/deploy_s3 \
  | "$py" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["location"])')"
case "$location" in
  s3://warehouse/lake/*) ;;
  *) fail "default.deploy_s3 is at $location, not in the bucket" ;;
esac
objects="$("$py" deploy/test/s3_rows.py --endpoint http://127.0.0.1:3900 --region garage \
  --key-id "$key_id" --secret "$secret" --prefix "warehouse/${location#s3://warehouse/}")"
echo "in the bucket: $objects"
echo "$objects" | "$py" -c 'import json,sys; o=json.load(sys.stdin); assert o["rows"] == 4 and o["dataFiles"] >= 2 and o["metadataFiles"] >= 2, o'
[ "$(iceberg_rows)" = "$read_back" ] || fail "the local warehouse's table changed under the S3 overlay"

step "passed"
