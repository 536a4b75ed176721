#!/usr/bin/env bash
# Runs the Python binding's tests with Debian's pytest (pytest-3) against
# libnetdl (NETDL_LIB, default target/debug/libnetdl.so). They include
# `pip install` of the package into a temporary venv (tests/test_install.py,
# with Debian's pip, setuptools and wheel; no network) and the library lookup
# without NETDL_LIB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export NETDL_LIB=${NETDL_LIB:-$root/target/debug/libnetdl.so}
export PYTHONDONTWRITEBYTECODE=1
cd "$root/bindings/python"
exec pytest-3 -q -p no:cacheprovider tests "$@"
