#!/usr/bin/env bash
# The LÖVE demo (`make love-demo`): builds netdl (release), serves the
# sample files of examples/love/sample_files.py (one PNG among them) from a
# loopback server it starts and stops itself, and runs the game in
# examples/love against it; the game loads bindings/lua/network.lua through
# LUA_PATH and the library through NETDL_LIB. Extra arguments go to the game
# (`make love-demo ARGS="--quit-after 10"`). Exits with the game's status.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
files=build/love-demo-files
python3 examples/love/sample_files.py "$files"

# The loopback server, paced to 1 MB/s per file so the bars are visible.
. scripts/loopback.sh
trap stop_loopback EXIT
start_loopback "$files" 1000000 love-demo

urls=()
while read -r _ name; do
    urls+=("$base/files/$name")
done < "$files/SHA256SUMS"

status=0
LUA_PATH="$PWD/bindings/lua/?.lua;;" NETDL_LIB="$PWD/target/release/libnetdl.so" \
    love examples/love "$@" "${urls[@]}" || status=$?
exit "$status"
