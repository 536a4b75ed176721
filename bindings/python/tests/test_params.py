"""Every net_params field is reachable from Python and reaches the server."""
import json
import ssl
from pathlib import Path

import pytest

import netdl
from conftest import pattern, serve


def ended(rid, timeout=10):
    """The ended event of `rid` (other ids' events are dropped)."""
    evs = [ev for ev in netdl.events(rid, timeout=timeout) if ev.id == rid]
    assert evs[-1].phase == "ended"
    return evs[-1]


def echo(server, **options):
    end = ended(netdl.request(f"{server}/echo", options.pop("method", "POST"), **options))
    assert end.ok, end
    return json.loads(end.body)


def test_headers_as_dict_pairs_or_headers_object(server):
    assert echo(server, headers={"X-One": "1"})["headers"]["X-One"] == "1"
    doc = echo(server, headers=[("X-A", "a"), ("X-B", "b")])
    assert (doc["headers"]["X-A"], doc["headers"]["X-B"]) == ("a", "b")
    doc = echo(server, headers=netdl.Headers([("X-C", "c")]))
    assert doc["headers"]["X-C"] == "c"


def test_str_body_is_utf8_text_and_bytes_body_binary(server):
    doc = echo(server, body="é=1")
    assert doc["body"].encode("latin-1") == "é=1".encode()
    assert doc["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    doc = echo(server, body=bytearray(b"\x00\xff"))
    assert doc["body"].encode("latin-1") == b"\x00\xff"
    assert doc["headers"]["Content-Type"] == "application/octet-stream"


def test_body_type_overrides_the_label_and_a_content_type_header_wins(server):
    doc = echo(server, body="a", body_type=netdl.BodyType.BINARY)
    assert doc["headers"]["Content-Type"] == "application/octet-stream"
    doc = echo(server, body=b"a", body_type=netdl.BodyType.TEXT)
    assert doc["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    doc = echo(server, body=b"{}", headers={"Content-Type": "application/json"})
    assert doc["headers"]["Content-Type"] == "application/json"


def test_bad_body_type_is_an_error_event(server):
    end = ended(netdl.request(f"{server}/echo", "POST", body="a", body_type=9))
    assert end.is_error and end.error_code == netdl.ErrorCode.INVALID_ARGUMENT


def test_body_file_from_a_base_directory(server, docs, tmp_path):
    data = pattern(70000)
    (docs / "up").mkdir()
    (docs / "up" / "data.bin").write_bytes(data)
    doc = echo(server, method="PUT", body_file="up/data.bin")
    assert doc["body"].encode("latin-1") == data
    assert doc["headers"]["Content-Type"] == "application/octet-stream"

    caches = tmp_path / "caches"
    (caches / "c").mkdir(parents=True)
    (caches / "c" / "f.txt").write_bytes(b"from caches")
    netdl.set_directory(netdl.CACHES, caches)
    doc = echo(server, body_file=Path("c/f.txt"), body_file_dir=netdl.Dir.CACHES)
    assert doc["body"] == "from caches"


def test_missing_body_file_is_an_io_error(server, docs):
    end = ended(netdl.request(f"{server}/echo", "POST", body_file="nope.bin"))
    assert end.is_error and end.error_code == netdl.ErrorCode.IO


def test_body_and_body_file_together_are_refused(server):
    with pytest.raises(ValueError, match="body or body_file"):
        netdl.request(f"{server}/echo", "POST", body="a", body_file="f")


def test_timeout_is_an_inactivity_limit_in_whole_seconds(server):
    end = ended(netdl.request(f"{server}/slow/4096?ms=4000", timeout=1))
    assert end.is_error and end.error_code == netdl.ErrorCode.TIMEOUT
    end = ended(netdl.request(f"{server}/slow/2048?ms=1500", timeout=3.0))
    assert end.ok and end.body == pattern(2048)


@pytest.mark.parametrize("bad", [0.5, 0.999, 0, -1, 1.5, 2.25, float("nan"), float("inf"), 2 ** 32,
                                 10 ** 400])
def test_timeout_below_one_second_or_fractional_is_a_value_error(server, bad):
    with pytest.raises(ValueError, match="timeout"):
        netdl.request(f"{server}/bytes/1", timeout=bad)


@pytest.mark.parametrize("bad", [True, "5", [1]])
def test_timeout_of_another_type_is_a_type_error(server, bad):
    with pytest.raises(TypeError, match="timeout"):
        netdl.request(f"{server}/bytes/1", timeout=bad)


def test_redirects_followed_by_default_or_reported(server):
    end = ended(netdl.request(f"{server}/redirect/2"))
    assert (end.status, end.body, end.url) == (200, b"done", f"{server}/redirect/0")
    end = ended(netdl.request(f"{server}/redirect/2", handle_redirects=False))
    assert not end.is_error and end.status == 302
    assert end.headers["location"] == "/redirect/1" and end.url == f"{server}/redirect/2"


def test_max_redirects(server):
    end = ended(netdl.request(f"{server}/redirect/3", max_redirects=2))
    assert end.is_error and end.error_code == netdl.ErrorCode.TOO_MANY_REDIRECTS
    end = ended(netdl.request(f"{server}/redirect/3", max_redirects=3))
    assert end.ok and end.body == b"done"


def test_max_body_for_requests_and_downloads(server, docs):
    end = ended(netdl.request(f"{server}/bytes/1000", max_body=999))
    assert end.is_error and end.error_code == netdl.ErrorCode.TOO_LARGE
    end = ended(netdl.request(f"{server}/bytes/1000", max_body=1000))
    assert end.ok and end.body == pattern(1000)
    end = ended(netdl.download(f"{server}/bytes/1000", "big.bin", max_body=999))
    assert end.is_error and end.error_code == netdl.ErrorCode.TOO_LARGE
    assert not (docs / "big.bin").exists()


@pytest.mark.parametrize("name", ["max_redirects", "max_body"])
def test_counts_must_be_positive_ints(server, name):
    with pytest.raises(ValueError, match=name):
        netdl.request(f"{server}/bytes/1", **{name: 0})
    with pytest.raises(TypeError, match=name):
        netdl.request(f"{server}/bytes/1", **{name: 1.0})


def test_ca_file_trusts_a_private_certificate(self_signed):
    cert, key = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with serve(lambda path: (200, [("Content-Type", "text/plain")], b"over tls"), tls=ctx) as base:
        end = ended(netdl.request(f"{base}/x"))
        assert end.is_error and end.error_code == netdl.ErrorCode.TLS
        end = ended(netdl.request(f"{base}/x", ca_file=cert))
        assert end.ok and end.body == b"over tls"
        end = ended(netdl.request(f"{base}/x", ca_file=str(cert)))
        assert end.ok and end.body == b"over tls"


def test_nul_in_a_string_is_a_value_error_not_a_truncation(server):
    with pytest.raises(ValueError, match="url"):
        netdl.request(f"{server}/bytes/1\0/evil")
    with pytest.raises(ValueError, match="header"):
        netdl.request(f"{server}/bytes/1", headers={"X-A": "a\0b"})
    with pytest.raises(ValueError, match="filename"):
        netdl.download(f"{server}/bytes/1", "a\0b")


def test_unknown_option_is_a_type_error(server):
    with pytest.raises(TypeError):
        netdl.request(f"{server}/bytes/1", follow=False)


def test_upload_progress_reports_the_request_body(server):
    data = pattern(3_000_000)
    rid = netdl.request(f"{server}/echo", "PUT", body=data, progress="upload")
    evs = [ev for ev in netdl.events(rid, timeout=30) if ev.id == rid]
    phases = [e.phase for e in evs]
    assert phases[0] == "began" and phases[-1] == "ended"
    assert set(phases[1:-1]) <= {"progress"}
    assert all(e.bytes_estimated == len(data) for e in evs[:-1])
    sent = [e.bytes_transferred for e in evs[:-1]]
    assert sent == sorted(sent) and sent[-1] <= len(data)
    end = evs[-1]
    assert end.ok and json.loads(end.body)["body"].encode("latin-1") == data


@pytest.mark.parametrize("progress", [True, "download", netdl.Progress.DOWNLOAD])
def test_download_progress_spellings(server, progress):
    rid = netdl.request(f"{server}/bytes/5000", progress=progress)
    evs = [ev for ev in netdl.events(rid, timeout=10) if ev.id == rid]
    assert evs[0].phase == "began" and evs[0].bytes_estimated == 5000
    assert evs[-1].phase == "ended" and evs[-1].bytes_transferred == 5000


def test_bad_progress_value_is_a_value_error(server):
    with pytest.raises(ValueError, match="progress"):
        netdl.request(f"{server}/bytes/1", progress="both")


def test_events_go_to_this_module_queue_only(server, docs):
    """A request another user of the library starts (default queue) never
    reaches netdl.poll(), and ours never reach net_poll."""
    from netdl import _ffi
    theirs = netdl._lib.net_request(f"{server}/bytes/7".encode(), b"GET", None)
    ours = netdl.request(f"{server}/bytes/8")
    got = list(netdl.events(ours, timeout=10))
    assert [(e.id, e.phase) for e in got] == [(ours, "ended")]
    buf = (_ffi.NetEvent * 8)()
    n = netdl._lib.net_wait(buf, 8, 10_000)
    assert [(buf[i].id, buf[i].phase, buf[i].body_len) for i in range(n)] == [(theirs, 2, 7)]
    assert netdl._lib.net_poll(buf, 8) == 0
