#!/usr/bin/env bash
# Tests the SDL2 demo under a virtual X display (xvfb-run), each run through
# scripts/sdl_demo.sh (loopback server, window, checksums of every file
# reported done, and no other file in the output folder; the first run
# builds netdl and the demo):
#  1. six downloads start; the keys Down, C, N (fed through SDL's event
#     queue) cancel the second and start a seventh: exit 0, the six files
#     done byte for byte, and the screenshot shows six bars full in the
#     "done" colour and one in the "cancelled" colour;
#  2. one file and one the server lacks (404): exit 1, the bars done and
#     failed;
#  3. Esc before the downloads can end: exit 0 at once, every running
#     download cancelled, no file written.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # run NAME EXPECTED_STATUS ARGS...: the demo's output in $work/NAME.log
    local name=$1 want=$2 status=0
    shift 2
    xvfb-run -a -s "-screen 0 1024x768x24" scripts/sdl_demo.sh --out "$work/out-$name" "$@" \
        > "$work/$name.log" 2>&1 || status=$?
    if [ "$status" -ne "$want" ]; then
        cat "$work/$name.log" >&2
        echo "sdl test $name: exit status $status, expected $want" >&2
        exit 1
    fi
}

# The lines of $work/NAME.log that start with PREFIX, names only, sorted.
names() { sed -n "s/^$2 \([^ :]*\).*/\1/p" "$work/$1.log" | sort | tr '\n' ' '; }

expect() { # expect WHAT GOT WANTED
    if [ "$2" != "$3" ]; then
        echo "sdl test: $1: got '$2', expected '$3'" >&2
        exit 1
    fi
}

run keys 0 --rate 8000000 --linger 0.3 --press "down c n" --screenshot "$work/keys.png"
expect "keys: done" "$(names keys done:)" "cinematic.webm level1.pak music.ogg textures.bin voices.bank world.map "
expect "keys: cancelled" "$(names keys cancelled:)" "level2.pak "
grep -q '^checksums: all 6 downloaded files match$' "$work/keys.log"
python3 examples-c/sdl/shot.py check "$work/keys.png" "$work/keys.log" level1.pak=done level2.pak=cancelled \
    music.ogg=done textures.bin=done voices.bank=done world.map=done cinematic.webm=done

run failed 1 --no-build --files "level1.pak missing.bin" --linger 0.2 --screenshot "$work/failed.png"
expect "failed: done" "$(names failed done:)" "level1.pak "
grep -q '^failed: missing.bin: HTTP status 404$' "$work/failed.log"
python3 examples-c/sdl/shot.py check "$work/failed.png" "$work/failed.log" level1.pak=done missing.bin=failed

run escape 0 --no-build --press escape
expect "escape: done" "$(names escape done:)" ""
expect "escape: cancelled" "$(names escape cancelled:)" \
    "level1.pak level2.pak music.ogg textures.bin voices.bank world.map "
grep -q '^checksums: all 0 downloaded files match$' "$work/escape.log"

echo "sdl demo: all 3 runs passed"
