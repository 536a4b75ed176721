"""The enums, the Headers type and the ctypes layout against include/netdl.h."""
import re
import subprocess

import pytest

import netdl
from netdl import _ffi
from conftest import ROOT, serve

HEADER = (ROOT / "include" / "netdl.h").read_text()


def defines(prefix):
    return {m[1]: int(m[2]) for m in re.finditer(rf"#define {prefix}(\w+) (\d+)", HEADER)}


@pytest.mark.parametrize("cls, prefix", [(netdl.ErrorCode, "NET_ERROR_"), (netdl.Dir, "NET_DIR_"),
                                         (netdl.BodyType, "NET_BODY_"),
                                         (netdl.Progress, "NET_PROGRESS_"),
                                         (netdl.EventFlag, "NET_EVENT_")])
def test_enums_match_the_header_exactly(cls, prefix):
    want = defines(prefix)
    assert len(want) >= 2
    assert {m.name: m.value for m in cls} == want


def test_every_error_code_has_the_library_name():
    for code in netdl.ErrorCode:
        assert netdl.error_name(code) == f"NET_ERROR_{code.name}"
    assert netdl.error_name(10_000) == "NET_ERROR_UNKNOWN"


def test_directory_constants_are_the_enum():
    assert netdl.DOCUMENTS is netdl.Dir.DOCUMENTS and netdl.RESOURCE is netdl.Dir.RESOURCE
    assert netdl.CACHES == 2


def test_events_carry_enum_members(server, docs):
    bad = netdl.download("ftp://127.0.0.1/x", "x.bin", base_dir=netdl.CACHES)
    good = netdl.download(f"{server}/bytes/3", "g.bin")
    got = {ev.id: ev for ev in netdl.events(bad, good, timeout=10)}
    assert got[bad].error_code is netdl.ErrorCode.UNSUPPORTED_SCHEME
    assert got[bad].base_dir is netdl.Dir.CACHES
    assert got[good].error_code is netdl.ErrorCode.NONE and got[good].base_dir is netdl.Dir.DOCUMENTS


def test_values_from_a_newer_library_stay_ints():
    e = _ffi.NetEvent(id=1, phase=7, is_error=True, error_code=99, error=b"new", status=0,
                      url=b"http://x/", filename=b"f", base_dir=42, flags=0x80000001)
    fields = netdl._copy(e)
    assert fields["error_code"] == 99 and type(fields["error_code"]) is int
    assert fields["base_dir"] == 42 and type(fields["base_dir"]) is int
    assert fields["phase"] == "7"
    assert fields["flags"] == 0x80000001 and netdl.EventFlag.UNCHANGED in fields["flags"]
    ev = netdl.Event(user_data=None, **fields)
    assert ev.error_name == "NET_ERROR_UNKNOWN" and not ev.ok
    assert ev.unchanged and not ev.resumed


def test_headers_type():
    h = netdl.Headers([("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("X-B", "b"),
                       ("set-cookie", "b=2")])
    assert h["content-type"] == h["CONTENT-TYPE"] == "text/plain"
    assert h["Set-Cookie"] == "a=1"
    assert h.get_all("SET-COOKIE") == ["a=1", "b=2"] and h.get_all("nope") == []
    assert h.get("x-b") == "b" and h.get("nope") is None and h.get("nope", "d") == "d"
    assert "set-cookie" in h and "nope" not in h and 3 not in h
    with pytest.raises(KeyError):
        h["nope"]
    assert list(h) == h.items() == [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"),
                                    ("X-B", "b"), ("set-cookie", "b=2")]
    assert len(h) == 4 and h.keys() == ["Content-Type", "Set-Cookie", "X-B"]
    assert h.values() == ["text/plain", "a=1", "b", "b=2"]
    assert dict(h) == {"Content-Type": "text/plain", "Set-Cookie": "a=1", "X-B": "b"}
    assert h == netdl.Headers(h) and h != netdl.Headers([]) and hash(h) == hash(netdl.Headers(h))


def test_response_headers_repeated_and_in_received_order(docs):
    sent = [("Set-Cookie", "a=1"), ("X-Mixed-Case", "v"), ("Set-Cookie", "b=2"),
            ("Content-Type", "text/plain")]
    with serve(lambda path: (200, sent, b"hi")) as base:
        rid = netdl.request(f"{base}/h")
        end = [ev for ev in netdl.events(rid, timeout=10) if ev.id == rid][-1]
    assert end.ok and end.body == b"hi"
    assert end.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert end.headers["x-mixed-case"] == "v" and end.headers["content-length"] == "2"
    mine = [(n, v) for n, v in end.headers if n in dict(sent)]
    assert mine == sent


def test_ctypes_layout_matches_the_header(tmp_path):
    """Every field's offset and size, and each struct's size, as a C compiler sees them."""
    structs = {"net_params": _ffi.NetParams, "net_event": _ffi.NetEvent, "net_header": _ffi.NetHeader,
               "net_options": _ffi.NetOptions}
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "netdl.h"', "int main(void) {"]
    want = []
    for cname, cls in structs.items():
        lines.append(f'    printf("{cname} %zu\\n", sizeof({cname}));')
        want.append(f"{cname} {__import__('ctypes').sizeof(cls)}")
        for fname, _ in cls._fields_:
            lines.append(f'    printf("{cname}.{fname} %zu %zu\\n", offsetof({cname}, {fname}), '
                         f"sizeof((({cname} *)0)->{fname}));")
            f = getattr(cls, fname)
            want.append(f"{cname}.{fname} {f.offset} {f.size}")
    lines += ["    return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "include"),
                    str(src), "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")
    assert got[:-1] == want
