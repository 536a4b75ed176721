#!/usr/bin/env bash
# Memory checks: the C programs (tests/c_api.rs) run under valgrind's
# memcheck; any invalid access or definite leak fails them.
set -euo pipefail
cd "$(dirname "$0")/.."
NETDL_VALGRIND=1 cargo test --test c_api -- --test-threads=1
