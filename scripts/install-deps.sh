#!/usr/bin/env bash
# Installs the system packages the build needs, if missing (Debian/Ubuntu):
# protoc for the Spark Connect protos, a C toolchain for native dependencies, and
# for the tests Python's venv, a PostgreSQL server and Chromium (the web UI's test
# drives a real headless browser), and DejaVu Sans, the font of the benchmark charts.
set -euo pipefail
need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
for pkg in libssl-dev zlib1g-dev libcurl4-openssl-dev libsasl2-dev pkg-config fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
