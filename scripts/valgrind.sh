#!/usr/bin/env bash
# Memory checks under valgrind's memcheck: the C programs (tests/c_api.rs,
# the 0.1 client of tests/abi_compat.rs, tests/tables.rs) and the stress test (tests/stress.rs, 1,000 downloads). Any invalid
# access or definite leak fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
NETDL_VALGRIND=1 cargo test --test c_api --test abi_compat --test tables -- --test-threads=1

# The race/load test (1,000 downloads, cancels, shutdown mid-flight).
cargo build --tests --quiet
stress=$(cargo test --test stress --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys; print([j["executable"] for j in map(json.loads, sys.stdin) if j.get("executable") and "stress" in j["target"]["name"]][0])')
NETDL_STRESS_TOTAL=1000 valgrind --quiet --vgdb=no --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite "$stress" --test-threads=1
