#!/usr/bin/env bash
# The SDL2 demo (`make sdl-demo`): builds netdl (release, laid out in build/
# by `make`) and examples-c/sdl/main.c against it through pkg-config, serves
# a set of sample files from the loopback server (paced, so the bars visibly
# fill), opens the window, and checks every file the window reports done
# against the server's checksums.
#
#   scripts/sdl_demo.sh [--rate BYTES_PER_S] [--files "NAME ..."] [--out DIR]
#                       [--screenshot FILE.png] [--no-build] [demo options...]
#
# --rate paces each file (default 2000000); --files picks the server's files
# to download (default all eight; a name the server lacks gets a 404);
# --screenshot saves the last frame as a PNG; --no-build runs the demo built
# by an earlier run as it is. Other options go to the demo
# (--start K, --linger SECONDS, --press "KEY ..."; see examples-c/sdl/main.c).
# By default the first six files start at once and N starts the last two.
# Exit status: the demo's (1 when a download failed), or 3 when a file it
# reported done does not match.
set -euo pipefail
cd "$(dirname "$0")/.."

rate=2000000 names="" out=build/sdl-demo-out png="" build=1
demo_args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --rate) rate=$2; shift 2 ;;
    --files) names=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --screenshot) png=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) demo_args+=("$1"); shift ;;
    esac
done

if [ "$build" = 1 ]; then
    make --no-print-directory build >/dev/null
    export PKG_CONFIG_PATH="$PWD/build/lib/pkgconfig"
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    cc -std=c11 -O2 -Wall -Wextra -Werror examples-c/sdl/main.c -o build/sdl_demo \
        $(pkg-config --cflags --libs netdl sdl2) -Wl,-rpath,"$PWD/build/lib"
fi

# Sample files: deterministic pseudo-random content, generated once.
files=build/sdl-demo-files
if [ ! -f "$files/SHA256SUMS" ]; then
    mkdir -p "$files"
    python3 - "$files" <<'PY'
import hashlib, random, sys
sizes = {"level1.pak": 256 << 10, "level2.pak": 512 << 10, "music.ogg": 1 << 20,
         "textures.bin": 2 << 20, "voices.bank": 3 << 20, "world.map": 4 << 20,
         "cinematic.webm": 6 << 20, "patch-1.2.bin": 8 << 20}
sums = []
for name, size in sizes.items():
    data = random.Random(name).randbytes(size)
    open(f"{sys.argv[1]}/{name}", "wb").write(data)
    sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
open(f"{sys.argv[1]}/SHA256SUMS", "w").writelines(sums)
PY
fi
[ -n "$names" ] || names=$(awk '{print $2}' "$files/SHA256SUMS" | tr '\n' ' ')
read -r -a names <<< "$names"

work=$(mktemp -d)
. scripts/loopback.sh
trap 'stop_loopback; rm -rf "$work"' EXIT
start_loopback "$files" "$rate" sdl-demo

urls=()
for name in "${names[@]}"; do urls+=("$base/files/$name"); done
start=$(( ${#urls[@]} > 2 ? ${#urls[@]} - 2 : ${#urls[@]} ))
shot=()
[ -z "$png" ] || shot=(--screenshot "$work/shot.bmp")
rm -rf "$out"
mkdir -p "$out"

{
    rc=0
    build/sdl_demo -o "$out" --start "$start" "${shot[@]}" "${demo_args[@]}" "${urls[@]}" || rc=$?
    echo "$rc" > "$work/rc"
} | tee "$work/log"
status=$(cat "$work/rc")
[ -z "$png" ] || [ ! -f "$work/shot.bmp" ] || python3 examples-c/sdl/shot.py png "$work/shot.bmp" "$png"

# Every file reported done is in place, byte for byte; nothing else is.
mapfile -t done < <(sed -n 's/^done: \([^ ]*\) .*/\1/p' "$work/log")
for name in "${done[@]}"; do
    awk -v n="$name" '$2 == n' "$files/SHA256SUMS"
done > "$work/expected"
if [ -s "$work/expected" ] && ! (cd "$out" && sha256sum --quiet --strict -c "$work/expected"); then
    echo "sdl-demo: a downloaded file does not match" >&2
    exit 3
fi
if [ "$(find "$out" -mindepth 1 | wc -l)" -ne "${#done[@]}" ]; then
    echo "sdl-demo: $out holds other files than the ${#done[@]} done:" $(ls -A "$out") >&2
    exit 3
fi
echo "checksums: all ${#done[@]} downloaded files match"
exit "$status"
