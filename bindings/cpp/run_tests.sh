#!/usr/bin/env bash
# Builds bindings/cpp/tests/test_netdl.cpp with -std=c++17 -Wall -Wextra
# -Werror against libnetdl (NETDL_LIB, default target/debug/libnetdl.so)
# and runs it against a loopback server (and a second one, paced to 4 MiB/s,
# for suspend/resume) twice: built normally, and built
# with AddressSanitizer + UBSan (leak checking on; libnetdl itself is not
# instrumented, but its allocations go through the sanitizer's malloc).
# Also checks that dropping the Request of download()/request() does not
# compile ([[nodiscard]] under -Werror).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=${NETDL_LIB:-$root/target/debug/libnetdl.so}
libdir=$(dirname "$lib")
ln -sf "$(basename "$lib")" "$libdir/libnetdl.so.0"
work=$(mktemp -d)
url_file="$work/url"
mkdir "$work/files"
python3 "$root/scripts/loopback_server.py" --dir "$work/files" > "$url_file" &
server=$!
python3 "$root/scripts/loopback_server.py" --dir "$work/files" --rate 4194304 > "$work/paced_url" &
paced=$!
trap 'kill $server $paced 2>/dev/null; wait $server $paced 2>/dev/null; rm -rf "$work"' EXIT

flags=(-std=c++17 -Wall -Wextra -Werror -I"$root/include" -I"$root/bindings/cpp")
link=(-L"$libdir" -Wl,-rpath,"$libdir" -lnetdl)
src="$root/bindings/cpp/tests/test_netdl.cpp"

for call in 'netdl::download("http://127.0.0.1/", "x", nullptr);' 'netdl::request("http://127.0.0.1/", nullptr);'; do
    printf '#include "netdl.hpp"\nvoid f() { %s }\n' "$call" > "$work/discard.cpp"
    if g++ "${flags[@]}" -fsyntax-only "$work/discard.cpp" 2> "$work/discard.err"; then
        echo "FAIL: dropping the result compiles: $call"
        exit 1
    fi
    grep -q 'nodiscard' "$work/discard.err" || { cat "$work/discard.err"; exit 1; }
done
echo "ok: dropping the Request of download() and request() does not compile"

g++ "${flags[@]}" -O1 "$src" "${link[@]}" -o "$work/test_netdl" &
normal=$!
g++ "${flags[@]}" -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
    "$src" "${link[@]}" -o "$work/test_netdl_asan"
wait $normal

for _ in $(seq 100); do [ -s "$url_file" ] && [ -s "$work/paced_url" ] && break; sleep 0.05; done
base=$(head -n1 "$url_file")
paced_base=$(head -n1 "$work/paced_url")
echo "normal build:"
"$work/test_netdl" "$base" "$work/docs" "$work/files" "$paced_base"
echo "AddressSanitizer + UBSan build:"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$work/test_netdl_asan" "$base" "$work/docs-asan" "$work/files" "$paced_base"
