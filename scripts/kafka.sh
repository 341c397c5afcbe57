# Sourced by scripts/test.sh: installs tansu (a Kafka-protocol broker written in Rust)
# with cargo if it is missing, starts one broker with in-memory storage on a free
# loopback port, exports its address as SPARKLING_TEST_KAFKA_BOOTSTRAP and registers
# its shutdown in the caller's `cleanup` list. Topics are created by the tests (tansu
# does not create them on first use).
TANSU_VERSION=0.6.0

install_tansu() {
  if [ -x "$HOME/.cargo/bin/tansu" ] && [ -f "$HOME/.cargo/.sparkling-tansu-$TANSU_VERSION" ]; then
    return 0
  fi
  echo "installing tansu $TANSU_VERSION (cargo install, once per machine)"
  # The default features have no storage engine; dynostore brings the in-memory one.
  cargo install --locked --quiet tansu --version "$TANSU_VERSION" --features dynostore
  touch "$HOME/.cargo/.sparkling-tansu-$TANSU_VERSION"
}

start_test_kafka() {
  install_tansu
  KAFKA_DIR="$(mktemp -d /tmp/sparkling-kafka.XXXXXX)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  # Run in its own directory: tansu reads a .env file from the working directory.
  (cd "$KAFKA_DIR" && exec "$HOME/.cargo/bin/tansu" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --cluster-id sparkling-tests \
      --storage-engine memory://tansu/ >"$KAFKA_DIR/broker.log" 2>&1) &
  KAFKA_PID=$!
  cleanup+=(stop_test_kafka)
  for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      export SPARKLING_TEST_KAFKA_BOOTSTRAP="127.0.0.1:$port"
      echo "Kafka (tansu) for the tests: $SPARKLING_TEST_KAFKA_BOOTSTRAP"
      return 0
    fi
    sleep 0.2
  done
  cat "$KAFKA_DIR/broker.log" >&2
  return 1
}

stop_test_kafka() {
  kill "$KAFKA_PID" 2>/dev/null || true
  wait "$KAFKA_PID" 2>/dev/null || true
  rm -rf "$KAFKA_DIR"
}
