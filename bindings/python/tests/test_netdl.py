import subprocess
import sys

import netdl
from conftest import ROOT, pattern


def ended(rid, timeout=10):
    """Every event of `rid` up to its ended (other ids' events are dropped)."""
    return [ev for ev in netdl.events(rid, timeout=timeout) if ev.id == rid]


def test_version_and_constants():
    assert netdl.__version__.count(".") == 2
    assert (netdl.DOCUMENTS, netdl.RESOURCE) == (0, 4)
    assert netdl.error_name(6) == "NET_ERROR_TIMEOUT"


def test_download_is_byte_exact_with_progress_sequence(server, docs):
    rid = netdl.download(f"{server}/bytes/400000", "py/a.bin", progress=True, user_data={"k": 1})
    evs = ended(rid)
    phases = [e.phase for e in evs]
    assert phases[0] == "began" and phases[-1] == "ended"
    assert set(phases[1:-1]) <= {"progress"}
    assert all(e.user_data == {"k": 1} for e in evs)
    end = evs[-1]
    assert end.ok and end.status == 200 and not end.is_error and end.error == ""
    assert end.bytes_transferred == end.bytes_estimated == end.bytes_received == 400000
    assert end.attempt == 1 and end.flags == 0 and not end.unchanged and not end.resumed
    assert end.path == str(docs / "py" / "a.bin") and end.filename == "py/a.bin"
    assert end.base_dir == netdl.DOCUMENTS and end.body is None
    assert end.headers["Content-Length"] == "400000"
    assert (docs / "py" / "a.bin").read_bytes() == pattern(400000)
    counts = [e.bytes_transferred for e in evs]
    assert counts == sorted(counts)


def test_without_progress_only_ended(server, docs):
    rid = netdl.download(f"{server}/bytes/10", "b.bin")
    assert [e.phase for e in ended(rid)] == ["ended"]


def test_request_sends_method_headers_and_body(server):
    import json
    rid = netdl.request(f"{server}/echo?x=1", "put", headers={"X-Py": "yes"}, body=b"\x00\x01raw")
    end = ended(rid)[-1]
    assert end.ok and end.response_type == "text" and end.path is None
    doc = json.loads(end.body)
    assert doc["method"] == "PUT" and doc["query"] == "x=1"
    assert doc["headers"]["X-Py"] == "yes"
    assert doc["headers"]["Content-Type"] == "application/octet-stream"
    assert doc["body"] == "\x00\x01raw"


def test_404_is_not_an_error_and_writes_no_file(server, docs):
    rid = netdl.download(f"{server}/status/404", "missing.bin")
    end = ended(rid)[-1]
    assert (end.is_error, end.status, end.ok) == (False, 404, False)
    assert end.body == b"status 404"
    assert not (docs / "missing.bin").exists()


def test_cancel_suppresses_events(server, docs):
    rid = netdl.download(f"{server}/slow/200000?ms=20", "slow.bin", progress=True, user_data="x")
    first = netdl.wait(10)
    assert first and first[0].id == rid
    assert netdl.cancel(rid) is True
    assert netdl.cancel(rid) is False
    other = netdl.download(f"{server}/bytes/5", "o.bin")
    evs = list(netdl.events(other, timeout=10))
    assert all(e.id == other for e in evs)
    assert not (docs / "slow.bin").exists()


def test_wait_timeout_returns_empty_list():
    assert netdl.wait(0.05) == []
    assert netdl.poll() == []


def test_bad_inputs_are_error_events(server, docs):
    cases = {
        netdl.download("ftp://127.0.0.1/x", "x.bin"): "NET_ERROR_UNSUPPORTED_SCHEME",
        netdl.download("not a url", "x.bin"): "NET_ERROR_INVALID_ARGUMENT",
        netdl.download(f"{server}/bytes/1", "../escape.bin"): "NET_ERROR_INVALID_ARGUMENT",
        netdl.download(f"{server}/bytes/1", "x.bin", base_dir=netdl.RESOURCE): "NET_ERROR_INVALID_ARGUMENT",
        netdl.request(f"{server}/bytes/1", "BAD METHOD"): "NET_ERROR_INVALID_ARGUMENT",
        netdl.request(f"{server}/bytes/1", headers={"X-A": "a\r\nB: c"}): "NET_ERROR_INVALID_ARGUMENT",
        netdl.download(f"{server}/bytes/1", "x.bin", base_dir=77): "NET_ERROR_INVALID_ARGUMENT",
    }
    got = {ev.id: ev for ev in netdl.events(*cases, timeout=10)}
    for rid, name in cases.items():
        end = got[rid]
        assert end.phase == "ended" and end.is_error and end.error_name == name, (rid, end)
        assert end.error


def test_events_outlive_the_next_poll(server, docs):
    rid = netdl.request(f"{server}/text/1000")
    end = ended(rid)[-1]
    netdl.poll()
    netdl.request(f"{server}/text/5")
    netdl.wait(5)
    assert end.body == bytes(97 + i % 26 for i in range(1000))
    assert end.url == f"{server}/text/1000"


def test_set_directory_rejects_relative_paths():
    import pytest
    with pytest.raises(ValueError):
        netdl.set_directory(netdl.CACHES, "relative/dir")


def test_shutdown_is_final(server, tmp_path):
    code = f"""
import netdl
netdl.set_directory(netdl.DOCUMENTS, {str(tmp_path)!r})
rid = netdl.download({server + '/slow/100000?ms=50'!r}, "s.bin")
netdl.shutdown()
assert netdl.download({server + '/bytes/1'!r}, "t.bin") == 0
assert netdl.poll() == [] and netdl.cancel(rid) is False
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "bindings" / "python")})
    assert out.stdout.strip() == "ok", out.stderr
    assert list(tmp_path.iterdir()) == []
