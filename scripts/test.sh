#!/usr/bin/env bash
# Runs every test of netdl on a fresh machine: installs what the tests need
# (scripts/deps.sh), then checks formatting and lints, runs the Rust unit
# and integration tests (which also build and run the C programs), the
# bindings' tests, the install test and the memory checks.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# The build and the test files take about 6 GiB (target/ and the system's
# temporary folder); a full disk shows up later as a linker "Bus error".
free_gib() { df -Pk "$1" | awk 'NR == 2 { print int($4 / 1048576) }'; }
for dir in . "${TMPDIR:-/tmp}"; do
    if [ "$(free_gib "$dir")" -lt 8 ]; then
        echo "warning: only $(free_gib "$dir") GiB free for $dir; the build and tests take about 6" >&2
    fi
done

step "dependencies"
scripts/deps.sh

step "format and lints"
cargo fmt --check
cargo clippy --all-targets -- -D warnings

step "rust: unit and integration tests (C programs included)"
cargo build          # the cdylib the C programs and the bindings load
cargo test --all-targets

export NETDL_LIB="$PWD/target/debug/libnetdl.so"
for runner in bindings/python/run_tests.sh bindings/lua/run_tests.sh bindings/cpp/run_tests.sh \
    bindings/csharp/run_tests.sh \
    examples/love/run_test.sh \
    examples-c/sdl/run_test.sh \
    scripts/install_test.sh scripts/valgrind.sh; do
    step "$runner"
    "$runner"
done

step "benchmark smoke test (bench/run --quick: checks every file, not the timings)"
bench/run --quick --out "$PWD/target/bench-quick.json"

step "all tests passed"
