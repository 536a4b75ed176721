#!/usr/bin/env bash
# Runs the Lua binding's tests with LuaJIT against libnetdl (NETDL_LIB,
# default target/debug/libnetdl.so), a loopback server and an HTTPS server
# with a throw-away self-signed certificate (made with the openssl tool), and
# the loopback server again, its files paced to 4 MiB/s (for suspend/resume).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export NETDL_LIB=${NETDL_LIB:-$root/target/debug/libnetdl.so}
work=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=netdl-test -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
mkdir "$work/files"
python3 "$root/scripts/loopback_server.py" --dir "$work/files" > "$work/url" &
server=$!
python3 "$root/scripts/loopback_server.py" --dir "$work/files" --rate 4194304 > "$work/paced_url" &
paced=$!
python3 "$root/bindings/lua/tests/tls_server.py" "$work/cert.pem" "$work/key.pem" > "$work/tls_url" &
tls_server=$!
trap 'kill $server $paced $tls_server 2>/dev/null; wait $server $paced $tls_server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && [ -s "$work/tls_url" ] && [ -s "$work/paced_url" ] && break; sleep 0.05; done
luajit "$root/bindings/lua/tests/run.lua" "$(head -n1 "$work/url")" "$work" "$(head -n1 "$work/tls_url")" \
    "$work/cert.pem" "$(head -n1 "$work/paced_url")" | grep -v '^myNetworkListener\|^  \|^}'
