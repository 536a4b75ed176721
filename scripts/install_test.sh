#!/usr/bin/env bash
# Installs netdl into a temporary prefix with `make install`, then builds
# examples-c/download.c with `pkg-config --cflags --libs netdl` and the C++
# CMake project examples-c/cmake-consumer with find_package(netdl), and runs
# both against a loopback server. Checks the SONAME and the installed files.
# Then `make` and the C build and run commands of README.md's `## Building`
# section, as written there (in a scratch folder, URL and folder swapped for
# loopback ones), against build/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
prefix="$work/prefix"
url_file="$work/url"
python3 scripts/loopback_server.py > "$url_file" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT

make --no-print-directory install PREFIX="$prefix" >/dev/null
for f in lib/libnetdl.so lib/libnetdl.so.0 lib/libnetdl.a include/netdl.h include/netdl.hpp \
    lib/pkgconfig/netdl.pc lib/cmake/netdl/netdlConfig.cmake lib/cmake/netdl/netdlConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || { echo "install: missing $f" >&2; exit 1; }
done
soname=$(readelf -d "$prefix/lib/libnetdl.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libnetdl.so.0" ] || { echo "install: SONAME is '$soname'" >&2; exit 1; }

for _ in $(seq 100); do [ -s "$url_file" ] && break; sleep 0.05; done
base=$(head -n1 "$url_file")

# C, through pkg-config.
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
cc -std=c11 -Wall -Wextra -Werror examples-c/download.c -o "$work/download" \
    $(pkg-config --cflags --libs netdl) -Wl,-rpath,"$prefix/lib"
"$work/download" "$base/bytes/100000" c.bin "$work/out-c" >/dev/null
cmp <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(100000)))') "$work/out-c/c.bin"

# C, linked statically against libnetdl.a with the libraries netdl.pc lists.
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror examples-c/download.c -o "$work/download-static" \
    $(pkg-config --cflags netdl) "$prefix/lib/libnetdl.a" \
    $(pkg-config --static --libs-only-l netdl | sed 's/-lnetdl//')
"$work/download-static" "$base/bytes/1000" s.bin "$work/out-static" >/dev/null
[ "$(stat -c %s "$work/out-static/s.bin")" = 1000 ]

# C++, through CMake's find_package.
cmake -S examples-c/cmake-consumer -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_RPATH="$prefix/lib" >/dev/null
cmake --build "$work/cmake" >/dev/null
"$work/cmake/consumer" "$base/bytes/5000" "$work/out-cpp"
[ "$(stat -c %s "$work/out-cpp/file.bin")" = 5000 ]

# README `## Building`: `make`, then its cc and ./download lines.
make --no-print-directory >/dev/null
for f in lib/libnetdl.so.0.1.0 lib/libnetdl.so.0 lib/libnetdl.so lib/libnetdl.a \
    include/netdl.h include/netdl.hpp; do
    [ -e "build/$f" ] || { echo "make: missing build/$f" >&2; exit 1; }
done
[ "$(readlink build/lib/libnetdl.so.0)" = libnetdl.so.0.1.0 ] &&
    [ "$(readlink build/lib/libnetdl.so)" = libnetdl.so.0 ] ||
    { echo "make: build/lib links are wrong" >&2; exit 1; }
readme_cmds=$(awk '/^## Building/ { s = 1; next } s && /^## / { exit }
    s && /^(cc |\.\/download )/ { c = 1 } c { print } c && !/\\$/ { c = 0 }' README.md)
grep -q '^cc .*' <<<"$readme_cmds" && grep -q '^\./download ' <<<"$readme_cmds" ||
    { echo "README ## Building: no cc / ./download lines found" >&2; exit 1; }
readme_cmds=${readme_cmds//https:\/\/example.com\/file.bin/$base/bytes/100000}
readme_cmds=${readme_cmds//\/tmp\/netdl-example/$work/out-readme}
mkdir "$work/readme"
ln -s "$root/build" "$root/examples-c" "$work/readme/"
(cd "$work/readme" && eval "$readme_cmds") >/dev/null
cmp <(python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(100000)))') "$work/out-readme/file.bin"

echo "install test: pkg-config (C, shared and static), find_package (C++) and README's build/ consumers work"
