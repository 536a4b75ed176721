#!/usr/bin/env bash
# Builds the C# binding (NetDl.cs) with the distribution's Mono compiler,
# once alone as a library (warnings are errors) and once with its tests
# (tests/Tests.cs) into one program, as a Unity or Godot project compiles
# the file, then runs the tests on mono against libnetdl (NETDL_LIB,
# default target/debug/libnetdl.so) and the loopback server (and a second one,
# paced to 4 MiB/s, for suspend/resume).
# tests/layout.c (-Wall -Wextra -Werror) prints netdl.h's struct layout for
# the tests to compare with the C# mirrors.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bindings/csharp"
lib=$(realpath "${NETDL_LIB:-$root/target/debug/libnetdl.so}")
work=$(mktemp -d)
mkdir -p "$work/files" "$work/lib"
# Its stderr (tracebacks of connections the tests reset) is shown on failure only.
python3 "$root/scripts/loopback_server.py" --dir "$work/files" > "$work/url" 2> "$work/server.log" &
server=$!
python3 "$root/scripts/loopback_server.py" --dir "$work/files" --rate 4194304 > "$work/paced_url" 2>> "$work/server.log" &
paced=$!
trap 'kill $server $paced 2>/dev/null; wait $server $paced 2>/dev/null; rm -rf "$work"' EXIT

# DllImport("netdl") makes mono look for libnetdl.so on the linker path.
ln -s "$lib" "$work/lib/libnetdl.so"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cc -std=c11 -Wall -Wextra -Werror -I"$root/include" "$here/tests/layout.c" -o "$work/layout"
"$work/layout" > "$work/layout.txt"
mcs -nologo -warnaserror -target:library -out:"$work/NetDl.dll" "$here/NetDl.cs"
mcs -nologo -warnaserror -out:"$work/tests.exe" "$here/NetDl.cs" "$here/tests/Tests.cs"

for _ in $(seq 100); do [ -s "$work/url" ] && [ -s "$work/paced_url" ] && break; sleep 0.05; done
mono --debug "$work/tests.exe" "$(head -n1 "$work/url")" "$work" "$work/layout.txt" "$(head -n1 "$work/paced_url")" ||
    { echo "loopback server's stderr:"; cat "$work/server.log"; exit 1; }
