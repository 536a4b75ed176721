#!/usr/bin/env bash
# Runs the Python binding's tests with Debian's pytest (pytest-3) against
# libnetdl (NETDL_LIB, default target/debug/libnetdl.so).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export NETDL_LIB=${NETDL_LIB:-$root/target/debug/libnetdl.so}
export PYTHONDONTWRITEBYTECODE=1
cd "$root/bindings/python"
exec pytest-3 -q -p no:cacheprovider tests
