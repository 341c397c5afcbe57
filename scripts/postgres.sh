# Sourced by scripts/test.sh: starts a throwaway PostgreSQL server (Debian's packages)
# on a free loopback port in a temporary directory, exports its URL as
# SPARKLING_TEST_POSTGRES_URL, and registers its shutdown in the caller's `cleanup` list.
start_test_postgres() {
  local pgbin
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    return 1
  fi
  PG_DIR="$(mktemp -d /tmp/sparkling-pg.XXXXXX)"
  local run=()
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "${run[@]}" "$pgbin/initdb" -D "$PG_DIR/data" -A trust -U sparkling >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; return 1; }
  "${run[@]}" "$pgbin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { cat "$PG_DIR/server.log"; return 1; }
  PG_CTL=("${run[@]}" "$pgbin/pg_ctl" -D "$PG_DIR/data" -m fast stop)
  cleanup+=(stop_test_postgres)
  export SPARKLING_TEST_POSTGRES_URL="postgres://sparkling@127.0.0.1:$port/postgres"
  echo "PostgreSQL for the tests: $SPARKLING_TEST_POSTGRES_URL"
}

stop_test_postgres() {
  "${PG_CTL[@]}" >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
