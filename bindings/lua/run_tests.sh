#!/usr/bin/env bash
# Runs the Lua binding's tests with LuaJIT against libnetdl (NETDL_LIB,
# default target/debug/libnetdl.so) and a loopback server.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export NETDL_LIB=${NETDL_LIB:-$root/target/debug/libnetdl.so}
work=$(mktemp -d)
python3 "$root/scripts/loopback_server.py" > "$work/url" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
luajit "$root/bindings/lua/tests/run.lua" "$(head -n1 "$work/url")" "$work" | grep -v '^myNetworkListener\|^  \|^}'
