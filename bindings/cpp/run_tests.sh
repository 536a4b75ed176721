#!/usr/bin/env bash
# Builds bindings/cpp/tests/test_netdl.cpp with -std=c++17 -Wall -Wextra
# -Werror against libnetdl (NETDL_LIB, default target/debug/libnetdl.so)
# and runs it against a loopback server.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=${NETDL_LIB:-$root/target/debug/libnetdl.so}
libdir=$(dirname "$lib")
ln -sf "$(basename "$lib")" "$libdir/libnetdl.so.0"
work=$(mktemp -d)
url_file="$work/url"
python3 "$root/scripts/loopback_server.py" > "$url_file" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
g++ -std=c++17 -Wall -Wextra -Werror -I"$root/include" -I"$root/bindings/cpp" \
    "$root/bindings/cpp/tests/test_netdl.cpp" -L"$libdir" -Wl,-rpath,"$libdir" -lnetdl -o "$work/test_netdl"
for _ in $(seq 100); do [ -s "$url_file" ] && break; sleep 0.05; done
"$work/test_netdl" "$(head -n1 "$url_file")" "$work/docs"
