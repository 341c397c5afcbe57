# Sourced by scripts/test.sh: installs Garage (a real S3-compatible object store written
# in Rust) with cargo if it is missing, starts a single-node server on free loopback
# ports in a temporary directory with one bucket and one access key, exports them as
# SPARKLING_TEST_S3_* and registers its shutdown in the caller's `cleanup` list.
GARAGE_VERSION=2.5.0

install_garage() {
  if [[ "$(garage --version 2>/dev/null)" == *":$GARAGE_VERSION "* ]]; then
    return 0
  fi
  echo "installing Garage $GARAGE_VERSION (cargo install, once per machine)"
  # Only what a single test node needs: the SQLite metadata engine.
  cargo install --locked --quiet "garage@$GARAGE_VERSION" \
    --no-default-features --features bundled-libs,sqlite
}

# Makes a fresh single-node Garage usable through the command given after the key's
# name (`garage -c FILE`, or `docker exec CONTAINER garage -c FILE`): assigns the layout,
# creates the bucket `warehouse` and an access key allowed on it, and sets GARAGE_KEY_ID
# and GARAGE_SECRET. deploy/test.sh uses it for its Garage container.
garage_bootstrap() {
  local name=$1
  shift
  local node info
  node="$("$@" node id -q)"
  "$@" layout assign -z dc1 -c 1G "${node%@*}" >/dev/null
  "$@" layout apply --version 1 >/dev/null
  "$@" bucket create warehouse >/dev/null
  info="$("$@" key create "$name")"
  "$@" bucket allow --read --write --owner warehouse --key "$name" >/dev/null
  GARAGE_KEY_ID="$(awk '/Key ID:/ {print $3}' <<<"$info")"
  GARAGE_SECRET="$(awk '/Secret key:/ {print $3}' <<<"$info")"
  if [ -z "$GARAGE_KEY_ID" ] || [ -z "$GARAGE_SECRET" ]; then
    echo "could not read the Garage access key from: $info" >&2
    return 1
  fi
}

# A single-node Garage configuration (SQLite metadata, region `garage`) on stdout:
# garage_config DIR RPC_BIND RPC_PUBLIC S3_BIND, with its metadata and data under DIR.
# deploy/test.sh uses it for its Garage container.
garage_config() {
  cat <<CONF
metadata_dir = "$1/meta"
data_dir = "$1/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "$2"
rpc_public_addr = "$3"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "$4"
root_domain = ".s3.garage.localhost"
CONF
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_test_garage() {
  install_garage
  GARAGE_DIR="$(mktemp -d /tmp/sparkling-garage.XXXXXX)"
  local s3_port rpc_port admin_port
  s3_port="$(free_port)"; rpc_port="$(free_port)"; admin_port="$(free_port)"
  {
    garage_config "$GARAGE_DIR" "127.0.0.1:$rpc_port" "127.0.0.1:$rpc_port" "127.0.0.1:$s3_port"
    printf '\n[admin]\napi_bind_addr = "127.0.0.1:%s"\n' "$admin_port"
  } >"$GARAGE_DIR/garage.toml"
  local g=(garage -c "$GARAGE_DIR/garage.toml")
  "${g[@]}" server >"$GARAGE_DIR/server.log" 2>&1 &
  GARAGE_PID=$!
  cleanup+=(stop_test_garage)
  local node=""
  for _ in $(seq 1 100); do
    node="$("${g[@]}" node id -q 2>/dev/null || true)"
    [ -n "$node" ] && break
    sleep 0.2
  done
  if [ -z "$node" ]; then
    cat "$GARAGE_DIR/server.log" >&2
    return 1
  fi
  garage_bootstrap sparkling-tests "${g[@]}"
  export SPARKLING_TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
  export SPARKLING_TEST_S3_REGION="garage"
  export SPARKLING_TEST_S3_BUCKET="warehouse"
  export SPARKLING_TEST_S3_ACCESS_KEY_ID="$GARAGE_KEY_ID"
  export SPARKLING_TEST_S3_SECRET_ACCESS_KEY="$GARAGE_SECRET"
  echo "Garage S3 for the tests: $SPARKLING_TEST_S3_ENDPOINT (bucket warehouse)"
}

stop_test_garage() {
  kill "$GARAGE_PID" 2>/dev/null || true
  wait "$GARAGE_PID" 2>/dev/null || true
  rm -rf "$GARAGE_DIR"
}
