"""The net_options keywords (retries, integrity, mirrors, ...) reach the library."""
import ctypes
import hashlib
import random
import socket
import urllib.request

import pytest

import netdl
from netdl import _ffi
from conftest import pattern


def ended(rid, timeout=10):
    """The ended event of `rid` (other ids' events are dropped)."""
    evs = [ev for ev in netdl.events(rid, timeout=timeout) if ev.id == rid]
    assert evs[-1].phase == "ended"
    return evs[-1]


@pytest.fixture
def refused():
    """A URL on 127.0.0.1 whose port refuses connections: bound, never listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()


def test_wrong_sha256_is_an_integrity_error_and_leaves_no_file(server, docs):
    data = pattern(100_000)
    wrong = hashlib.sha256(data + b"x").hexdigest()
    end = ended(netdl.download(f"{server}/bytes/100000", "sum.bin", sha256=wrong))
    assert end.is_error and end.error_code is netdl.ErrorCode.INTEGRITY
    assert end.error_name == "NET_ERROR_INTEGRITY"
    assert list(docs.iterdir()) == []


def test_right_sha256_succeeds_byte_exact(server, docs):
    data = pattern(100_000)
    end = ended(netdl.download(f"{server}/bytes/100000", "sum.bin",
                               sha256=hashlib.sha256(data).hexdigest().upper()))
    assert end.ok and end.error_code is netdl.ErrorCode.NONE
    assert (docs / "sum.bin").read_bytes() == data


def test_wrong_expected_size_is_an_integrity_error(server, docs):
    end = ended(netdl.download(f"{server}/bytes/1000", "size.bin", expected_size=999))
    assert end.is_error and end.error_code is netdl.ErrorCode.INTEGRITY
    assert not (docs / "size.bin").exists()
    end = ended(netdl.download(f"{server}/bytes/1000", "size.bin", expected_size=1000))
    assert end.ok and (docs / "size.bin").read_bytes() == pattern(1000)


def test_retries_end_with_the_last_attempt_and_its_error(refused, docs):
    end = ended(netdl.download(f"{refused}/x", "r.bin", max_retries=2, retry_delay_ms=10))
    assert end.is_error and end.error_code is netdl.ErrorCode.CONNECT
    assert end.attempt == 3 and end.bytes_received == 0
    end = ended(netdl.download(f"{refused}/x", "r.bin"))
    assert end.error_code is netdl.ErrorCode.CONNECT and end.attempt == 1
    assert list(docs.iterdir()) == []


def test_a_mirror_delivers_when_the_main_url_is_refused(server, refused, docs):
    mirror = f"{server}/bytes/5000"
    end = ended(netdl.download(f"{refused}/x", "m.bin", mirrors=[mirror], retry_delay_ms=10))
    assert end.ok and end.url == mirror and end.attempt == 2
    assert end.bytes_received == 5000
    assert (docs / "m.bin").read_bytes() == pattern(5000)


@pytest.mark.parametrize("options", [{"sha256": "xyz"}, {"max_retries": 101},
                                     {"mirrors": ["not a url"]}, {"proxy": "http://a b"},
                                     {"segments": 17}])
def test_a_bad_option_is_an_invalid_argument_event(server, docs, options):
    end = ended(netdl.download(f"{server}/bytes/10", "bad.bin", **options))
    assert end.is_error and end.error_code is netdl.ErrorCode.INVALID_ARGUMENT, end
    assert not (docs / "bad.bin").exists()


def test_download_only_options_are_refused_for_requests(server):
    end = ended(netdl.request(f"{server}/bytes/10", sha256="0" * 64))
    assert end.is_error and end.error_code is netdl.ErrorCode.INVALID_ARGUMENT
    assert "sha256" in end.error
    end = ended(netdl.request(f"{server}/bytes/10", segments=2))
    assert end.is_error and end.error_code is netdl.ErrorCode.INVALID_ARGUMENT
    assert "segments" in end.error


def test_proxy_is_used(server, refused):
    """An explicit proxy (here one that refuses) carries the request; "" means none."""
    end = ended(netdl.request(f"{server}/bytes/10", proxy=refused))
    assert end.is_error and end.error_code is netdl.ErrorCode.CONNECT
    end = ended(netdl.request(f"{server}/bytes/10", proxy=""))
    assert end.ok and end.body == pattern(10)


@pytest.mark.parametrize("name, value, error", [
    ("max_retries", -1, ValueError), ("max_retries", 1.0, TypeError),
    ("retry_delay_ms", 0, ValueError), ("retry_max_delay_ms", 2 ** 32, ValueError),
    ("expected_size", 0, ValueError), ("sha256", 5, TypeError),
    ("mirrors", "http://127.0.0.1/", TypeError), ("mirrors", ["a\0b"], ValueError),
    ("proxy", b"a\0", ValueError), ("compress", 1, TypeError), ("if_changed", "yes", TypeError),
    ("segments", -1, ValueError), ("segments", 2.0, TypeError), ("segments", 2 ** 32, ValueError),
])
def test_option_values_python_cannot_pass_raise(server, name, value, error):
    with pytest.raises(error, match=name):
        netdl.download(f"{server}/bytes/1", "x.bin", **{name: value})


def test_options_fill_net_options_and_stay_null_by_default():
    p, keep = netdl._params()
    assert not p.options
    p, keep = netdl._params(compress=False, max_retries=None)
    assert not p.options
    p, keep = netdl._params(max_retries=3, retry_delay_ms=5, retry_max_delay_ms=50, expected_size=7,
                            sha256="ab", mirrors=["http://a/", "http://b/"], proxy="", compress=True,
                            keep_partial=True, if_changed=True, segments=4)
    o = p.options.contents
    assert o.size == ctypes.sizeof(_ffi.NetOptions)
    assert (o.max_retries, o.retry_delay_ms, o.retry_max_delay_ms, o.expected_size) == (3, 5, 50, 7)
    assert o.sha256 == b"ab" and o.proxy == b""
    assert [o.mirrors[i] for i in range(o.mirror_count)] == [b"http://a/", b"http://b/"]
    assert (o.compress, o.keep_partial, o.if_changed, o.reserved8, o.segments) == (1, 1, 1, 0, 4)


def test_segments_fetch_a_large_file_over_two_connections_byte_exact(server, served, docs):
    """8 MiB over segments=2: the first connection keeps the first 4 MiB, a
    helper asks the server for the other 4 MiB with a Range; the file is whole."""
    data = random.Random(8).randbytes(8 * 1024 * 1024)
    (served / "big.bin").write_bytes(data)
    end = ended(netdl.download(f"{server}/files/big.bin", "big.bin", segments=2), timeout=60)
    assert end.ok and end.status == 200, end
    got = (docs / "big.bin").read_bytes()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    with urllib.request.urlopen(f"{server}/ranges/big.bin") as r:
        asked = r.read().decode().splitlines()
    assert asked == ["bytes=4194304-8388607"]
