"""Issue 14 in the binding: tag, priority, max_speed and persist options, the
event's tag and restored flag, suspend/resume, restore, set_priority and
set_max_speed."""
import asyncio
import ctypes
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

import netdl
from conftest import ROOT, loopback, pattern


def ended(rid, timeout=10):
    """Every event of `rid` until its ended event (other ids' are dropped)."""
    evs = [ev for ev in netdl.events(rid, timeout=timeout) if ev.id == rid]
    assert evs[-1].phase == "ended"
    return evs


@pytest.fixture(scope="module")
def paced(served):
    """scripts/loopback_server.py serving `served` at 4 MiB/s: a few MiB
    take long enough to be caught mid-way."""
    with loopback(served, "--rate", str(4 * 1024 * 1024)) as base:
        yield base


def test_the_tag_is_in_every_event_of_a_download_and_a_request(server, docs):
    tag = "level-3/pack é"  # UTF-8 round-trips
    evs = ended(netdl.download(f"{server}/bytes/300000", "t.bin", progress=True, tag=tag))
    assert [ev.phase for ev in evs][0] == "began" and len(evs) >= 2
    assert all(ev.tag == tag for ev in evs), evs
    assert evs[-1].ok and not evs[-1].restored
    assert (docs / "t.bin").read_bytes() == pattern(300000)
    evs = ended(netdl.request(f"{server}/bytes/10", progress=True, tag="req"))
    assert [ev.tag for ev in evs] == ["req"] * len(evs) and evs[-1].body == pattern(10)
    evs = ended(netdl.request(f"{server}/bytes/10"))
    assert evs[-1].ok and evs[-1].tag is None


def test_the_tag_reaches_the_async_api(server, docs):
    async def main():
        return await asyncio.wait_for(
            netdl.download_async(f"{server}/bytes/1000", "a.bin", tag="async"), 10)
    end = asyncio.run(main())
    assert end.ok and end.tag == "async"
    assert (docs / "a.bin").read_bytes() == pattern(1000)


def test_a_tag_of_max_tag_bytes_passes_and_one_more_is_an_invalid_argument(server, docs):
    evs = ended(netdl.download(f"{server}/bytes/10", "tag.bin", tag="x" * netdl.MAX_TAG))
    assert evs[-1].ok and evs[-1].tag == "x" * netdl.MAX_TAG
    end = ended(netdl.download(f"{server}/bytes/10", "long.bin", tag="x" * (netdl.MAX_TAG + 1)))[-1]
    assert end.is_error and end.error_code is netdl.ErrorCode.INVALID_ARGUMENT, end
    assert "tag" in end.error
    assert not (docs / "long.bin").exists()


def test_persist_on_a_request_is_an_invalid_argument(server):
    end = ended(netdl.request(f"{server}/bytes/10", persist=True))[-1]
    assert end.is_error and end.error_code is netdl.ErrorCode.INVALID_ARGUMENT
    assert "persist" in end.error and "applies to downloads only" in end.error


def test_options_fill_the_new_net_options_fields():
    p, keep = netdl._params(priority=-7, persist=True, max_speed=5 * 2 ** 20, tag="t")
    o = p.options.contents
    assert o.size == ctypes.sizeof(netdl._ffi.NetOptions) == 88
    assert (o.priority, o.persist, list(o.reserved24), o.max_speed, o.tag) == \
        (-7, 1, [0, 0, 0], 5 * 2 ** 20, b"t")
    p, keep = netdl._params(priority=0, persist=False, max_speed=0)
    assert not p.options  # every one is its default: no net_options at all


@pytest.mark.parametrize("name, value, error", [
    ("priority", 2 ** 31, ValueError), ("priority", -2 ** 31 - 1, ValueError),
    ("priority", 1.0, TypeError), ("persist", 1, TypeError), ("max_speed", -1, ValueError),
    ("max_speed", 2 ** 64, ValueError), ("tag", 5, TypeError), ("tag", "a\0b", ValueError),
])
def test_new_option_values_python_cannot_pass_raise(server, name, value, error):
    with pytest.raises(error, match=name):
        netdl.download(f"{server}/bytes/1", "x.bin", **{name: value})


def test_restore_with_an_empty_journal_starts_nothing(tmp_path):
    netdl.set_directory(netdl.APPLICATION_SUPPORT, str(tmp_path / "support"))
    assert netdl.restore() == 0
    assert netdl.restore() == 0


def test_set_priority_is_true_for_a_queued_request_and_false_for_unknown_ones(server):
    netdl.set_limits(1, 1)
    try:
        slow = netdl.request(f"{server}/slow/20480?ms=20")  # holds the one slot for ~0.4 s
        queued = netdl.request(f"{server}/bytes/10", priority=1)
        assert netdl.set_priority(queued, 5) is True
        assert netdl.set_priority(queued, -2 ** 31) is True
        assert netdl.set_priority(2 ** 62, 1) is False
        assert netdl.set_priority(0, 1) is False
    finally:
        netdl.set_limits(64, 64)
    ends = {ev.id: ev for ev in netdl.events(slow, queued, timeout=10) if ev.phase == "ended"}
    assert ends[slow].body == pattern(20480) and ends[queued].body == pattern(10)
    assert netdl.set_priority(queued, 1) is False  # ended
    with pytest.raises(ValueError, match="priority"):
        netdl.set_priority(queued, 2 ** 31)


def test_set_max_speed_zero_is_accepted(server):
    assert netdl.set_max_speed(0) is None
    assert ended(netdl.request(f"{server}/bytes/1000"))[-1].body == pattern(1000)
    with pytest.raises(ValueError, match="bytes_per_second"):
        netdl.set_max_speed(-1)


def test_suspend_stops_a_download_and_resume_completes_it_byte_exact(paced, served, docs):
    data = random.Random(14).randbytes(3 * 1024 * 1024)  # about 0.75 s at 4 MiB/s
    (served / "suspend.bin").write_bytes(data)
    rid = netdl.download(f"{paced}/files/suspend.bin", "suspend.bin", progress=True, tag="s")
    seen = []
    while not any(ev.phase == "progress" and ev.bytes_transferred > 0 for ev in seen):
        batch = netdl.wait(10)
        assert batch, "no progress within 10 s"
        seen += [ev for ev in batch if ev.id == rid]
    netdl.suspend()
    try:
        assert not any(ev.phase == "ended" for ev in seen), seen
        # Absence of an ended event while suspended, over a short bounded time.
        until = time.monotonic() + 0.3
        while (left := until - time.monotonic()) > 0:
            seen += [ev for ev in netdl.wait(left) if ev.id == rid]
        assert not any(ev.phase == "ended" for ev in seen), seen
    finally:
        netdl.resume()
    end = ended(rid, timeout=30)[-1]
    assert end.ok and end.tag == "s", end
    assert (docs / "suspend.bin").read_bytes() == data
    # It continued with a Range where its data ended, not from the start.
    with urllib.request.urlopen(f"{paced}/ranges/suspend.bin") as r:
        asked = r.read().decode().splitlines()
    assert len(asked) == 1 and asked[0].startswith("bytes="), asked
    assert 0 < int(asked[0][len("bytes="):].split("-")[0]) < len(data)
    assert end.resumed


# A process that starts a persisted, tagged download, suspends once 1.5 MiB
# arrived (so it cannot finish before the kill), says how far it got, and
# waits to be killed.
_PERSIST_CHILD = r"""
import sys
import netdl
support, docs, url, name = sys.argv[1:5]
netdl.set_directory(netdl.APPLICATION_SUPPORT, support)
netdl.set_directory(netdl.DOCUMENTS, docs)
rid = netdl.download(url, name, persist=True, tag="pack-7", progress=True)
for ev in netdl.events(rid, timeout=10):
    assert ev.phase != "ended", ev
    if ev.bytes_transferred >= 1536 * 1024:
        netdl.suspend()
        print(ev.bytes_transferred, flush=True)
        break
sys.stdin.read()  # until killed
"""


def _restored_by_wait():
    """restore(), then the restored download's events from wait()."""
    assert netdl.restore() == 1
    evs = []
    while not evs or evs[-1].phase != "ended":
        batch = netdl.wait(10)
        assert batch, f"no event of the restored download within 10 s: {evs}"
        evs += [ev for ev in batch if ev.restored]
    return evs


def _restored_by_aevents():
    """restore(), then the restored download's events from an aevents()
    without ids (the loop's reader takes them)."""
    async def main():
        evs = []
        stream = netdl.aevents()
        first = asyncio.ensure_future(stream.__anext__())  # subscribed before restore()
        await asyncio.sleep(0)
        assert netdl.restore() == 1
        evs.append(await first)
        async for ev in stream:
            evs.append(ev)
            if ev.phase == "ended":
                break
        await stream.aclose()
        return evs
    return asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("consume", [_restored_by_wait, _restored_by_aevents])
def test_restore_delivers_a_killed_processs_download_through_this_modules_events(paced, served,
                                                                                  tmp_path, consume):
    data = random.Random(7).randbytes(4 * 1024 * 1024)  # about 1 s at 4 MiB/s
    name = f"restored{consume.__name__}.bin"  # the server's /ranges/ are per name
    (served / name).write_bytes(data)
    support, docs = tmp_path / "support", tmp_path / "docs"
    child = subprocess.Popen(
        [sys.executable, "-c", _PERSIST_CHILD, str(support), str(docs),
         f"{paced}/files/{name}", name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")})
    try:
        got = child.stdout.readline()
        assert got.strip().isdigit() and int(got) < len(data), got
    finally:
        child.kill()  # SIGKILL: no shutdown, the journal is all that is left
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    netdl.set_directory(netdl.APPLICATION_SUPPORT, str(support))
    netdl.set_directory(netdl.DOCUMENTS, str(docs))
    evs = consume()
    began, end = evs[0], evs[-1]
    assert began.phase == "began" and began.status == 0 and began.user_data is None, began
    assert all(ev.id == began.id and ev.tag == "pack-7" and ev.restored for ev in evs), evs
    # progress=True was journalled with the rest of its options
    assert {ev.phase for ev in evs[1:-1]} <= {"progress"}, evs
    assert end.ok and end.bytes_transferred == len(data), end
    assert (docs / name).read_bytes() == data
    assert sorted(p.name for p in docs.iterdir()) == [name]  # no partial file left
    # It continued the data the journal claimed (a Range from there), or
    # started over when it had claimed none yet.
    with urllib.request.urlopen(f"{paced}/ranges/{name}") as r:
        asked = r.read().decode().splitlines()
    if began.bytes_transferred:
        assert asked == [f"bytes={began.bytes_transferred}-"] and end.resumed, (asked, began)
    else:
        assert asked == [], asked
    assert netdl.restore() == 0  # its record went when it ended
