#!/bin/sh
# The image's health check: healthy when the role this container runs answers on its
# port (catalog: the REST catalog's /v1/config; scheduler: the JSON API; executor: its
# Flight port accepts connections). The role is the argument after the binary in PID
# 1's command line (PID 1 is sparkling itself, or an init such as docker-init running it).
set -eu
role="$(tr '\0' '\n' </proc/1/cmdline | sed -n '/sparkling$/{n;p;q;}')"
auth="Authorization: Bearer ${SPARKLING_AUTH_TOKEN:-}"
case "$role" in
  catalog)
    exec curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:${SPARKLING_CATALOG_PORT:-8181}/v1/config" ;;
  scheduler)
    exec curl -fsS -o /dev/null -H "$auth" "http://127.0.0.1:${SPARKLING_HTTP_PORT:-8080}/api/v1/cluster" ;;
  executor)
    exec bash -c "exec 3<>/dev/tcp/127.0.0.1/${SPARKLING_FLIGHT_PORT:-50051}" ;;
  *)
    echo "no health check for role '$role'" >&2
    exit 1 ;;
esac
