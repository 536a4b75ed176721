#!/usr/bin/env bash
# The demo (`make demo`): builds netdl and examples-c/demo.c, then
#  - with no arguments: serves a bundled set of sample files from a loopback
#    server it starts and stops itself, downloads them all at once with live
#    progress, and verifies their checksums;
#  - with arguments (`make demo ARGS="-o DIR URL..."`): downloads those URLs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
lib="$PWD/target/release"
ln -sf libnetdl.so "$lib/libnetdl.so.0"   # the name its SONAME asks for
mkdir -p build
cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude examples-c/demo.c \
    -L"$lib" -Wl,-rpath,"$lib" -lnetdl -o build/demo

if [ $# -gt 0 ]; then
    exec build/demo "$@"
fi

# Sample files: deterministic pseudo-random content, generated once.
files=build/demo-files
if [ ! -f "$files/SHA256SUMS" ]; then
    mkdir -p "$files"
    python3 - "$files" <<'PY'
import random, sys
sizes = {"level1.pak": 256 << 10, "level2.pak": 512 << 10, "music.ogg": 1 << 20,
         "textures.bin": 2 << 20, "voices.bank": 3 << 20, "world.map": 4 << 20,
         "cinematic.webm": 6 << 20, "patch-1.2.bin": 8 << 20}
for name, size in sizes.items():
    with open(f"{sys.argv[1]}/{name}", "wb") as f:
        f.write(random.Random(name).randbytes(size))
PY
    (cd "$files" && sha256sum -- *.* > SHA256SUMS)
fi

# The loopback server, paced to 2 MB/s per file so the bars are visible.
. scripts/loopback.sh
trap stop_loopback EXIT
start_loopback "$files" 2000000 demo

out=build/demo-out
rm -rf "$out"
urls=()
while read -r _ name; do
    urls+=("$base/files/$name")
done < "$files/SHA256SUMS"

status=0
build/demo -o "$out" "${urls[@]}" || status=$?
if [ "$status" -eq 0 ]; then
    (cd "$out" && sha256sum --quiet -c "../demo-files/SHA256SUMS") && echo "checksums: all ${#urls[@]} files match"
fi
exit "$status"
