#!/usr/bin/env bash
# Runs the LÖVE demo game under a virtual display (xvfb-run) against a
# loopback server, with libnetdl from NETDL_LIB (default
# target/debug/libnetdl.so) and bindings/lua/network.lua through LUA_PATH:
#  1. the sample files: exit status 0, each file saved byte for byte where
#     system.pathForFile says, and a screenshot showing every bar full and
#     the downloaded PNG drawn pixel for pixel;
#  2. one file that is not on the server: exit status 1, that download
#     reported failed (HTTP 404), the other one saved;
#  3. Esc (sent with xdotool) in the middle of a 10 s download: the game
#     quits at once, with status 0.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export NETDL_LIB=${NETDL_LIB:-$root/target/debug/libnetdl.so}
export LUA_PATH="$root/bindings/lua/?.lua;;"
work=$(mktemp -d)
python3 "$root/examples/love/sample_files.py" "$work/files"
python3 "$root/scripts/loopback_server.py" --dir "$work/files" --rate 8000000 > "$work/url" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.05; done
base=$(head -n1 "$work/url")
[ -n "$base" ] || { echo "love test: the loopback server did not start" >&2; exit 1; }

# Downloads land in $TMPDIR/netdl-<uid> (system.TemporaryDirectory); the
# screenshot in $XDG_DATA_HOME/love/<identity> (LÖVE's save directory).
export TMPDIR="$work/tmp" XDG_DATA_HOME="$work/data"
mkdir -p "$TMPDIR" "$XDG_DATA_HOME"
saved="$TMPDIR/netdl-$(id -u)"
fail() { echo "FAIL: $*" >&2; cat "$work/out" >&2; exit 1; }

run_game() { # run_game EXPECTED_STATUS ARGS...
    local expected=$1 status=0
    shift
    timeout 60 xvfb-run -a love "$root/examples/love" "$@" > "$work/out" 2>&1 || status=$?
    [ "$status" -eq "$expected" ] || fail "love exited with $status, expected $expected"
}

# 1. Every sample file; the screenshot.
names=()
urls=()
while read -r _ name; do
    names+=("$name")
    urls+=("$base/files/$name")
done < "$work/files/SHA256SUMS"
run_game 0 --screenshot shot.png --quit-after 0.5 "${urls[@]}"
for name in "${names[@]}"; do
    [ "$(grep -c "^saved: $name " "$work/out")" -eq 1 ] || fail "no single 'saved: $name' line"
    grep -qx "saved: $name $saved/$name" "$work/out" || fail "$name not saved as $saved/$name"
done
(cd "$saved" && sha256sum --quiet -c "$work/files/SHA256SUMS") || fail "checksums differ"
shot="$XDG_DATA_HOME/love/netdl-love-demo/shot.png"
grep -qx "screenshot: $shot" "$work/out" || fail "no 'screenshot: $shot' line"
python3 "$root/examples/love/check_screenshot.py" "$shot" "$work/files/hello.png" "${#names[@]}" \
    || fail "the screenshot does not show what it should"
echo "love: ${#names[@]} files byte for byte, screenshot checked"

# 2. A missing file: status 1, the other file still saved.
rm -rf "$saved"
run_game 1 --quit-after 0.1 "$base/files/missing.bin" "$base/files/level1.pak"
grep -qx "failed: missing.bin: HTTP 404" "$work/out" || fail "no 'failed: missing.bin: HTTP 404' line"
grep -qx "saved: level1.pak $saved/level1.pak" "$work/out" || fail "level1.pak not saved"
(cd "$saved" && grep ' level1.pak$' "$work/files/SHA256SUMS" | sha256sum --quiet -c -) || fail "level1.pak differs"
echo "love: a failed download gives exit status 1"

# 3. Esc quits at once: 1 MiB sent 1 KiB every 10 ms would take 10 s.
rm -rf "$saved"
status=0
timeout 60 xvfb-run -a bash -c '
    love "$1" "$2" &
    game=$!
    window=$(xdotool search --sync --pid "$game" | head -n1)
    xdotool windowfocus --sync "$window" key Escape
    wait "$game"' _ "$root/examples/love" "$base/slow/1048576?ms=10" > "$work/out" 2>&1 || status=$?
[ "$status" -eq 0 ] || fail "love exited with $status after Esc, expected 0"
! grep -q "^saved:" "$work/out" || fail "the game did not quit at once on Esc"
echo "love: Esc quits at once"
