"""download_async, request_async and aevents: driven by the queue's event fd
through the running loop's add_reader, cancellable through asyncio."""
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

import netdl
from conftest import ROOT, pattern

SLOW = "/slow/300000?ms=10"  # 300 chunks of 1 KiB, one every 10 ms: about 3 s


class SpyLoop(asyncio.SelectorEventLoop):
    """A loop that records add_reader / remove_reader calls, and whether
    the fd was still open when it was removed."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def add_reader(self, fd, callback, *args):
        self.calls.append(("add", fd))
        return super().add_reader(fd, callback, *args)

    def remove_reader(self, fd):
        self.calls.append(("remove", fd))
        return super().remove_reader(fd)


def run(main, timeout=20):
    """Runs main() on a SpyLoop (failing after `timeout` s rather than
    hanging); returns its result and the loop (closed)."""
    with asyncio.Runner(loop_factory=SpyLoop) as runner:
        result = runner.run(asyncio.wait_for(main(), timeout))
        return result, runner.get_loop()


@pytest.fixture
def cancels(monkeypatch):
    """Every net_cancel call as (id, its result)."""
    calls = []
    real = netdl._lib.net_cancel

    def spy(rid):
        live = real(rid)
        calls.append((rid, live))
        return live

    monkeypatch.setattr(netdl._lib, "net_cancel", spy)
    return calls


@contextlib.asynccontextmanager
async def watching():
    """Collects every event of the module's queue through aevents() in a task
    of its own. Yields (seen, until): `await until(pred)` returns the first
    event seen for which pred(event) is true, once there is one."""
    seen = []
    changed = asyncio.Condition()

    async def watch():
        async for ev in netdl.aevents():
            seen.append(ev)
            async with changed:
                changed.notify_all()

    async def until(pred):
        async with changed:
            await changed.wait_for(lambda: any(pred(e) for e in seen))
        return next(e for e in seen if pred(e))

    task = asyncio.create_task(watch())
    await asyncio.sleep(0)  # one loop step: the watcher subscribed
    try:
        yield seen, until
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def settled():
    """Nothing async is left: no loop has the reader, no consumer waits."""
    return (netdl._loops, netdl._by_id, netdl._watchers, list(netdl._backlog)) == ({}, {}, [], [])


def test_download_async_is_byte_exact(server, docs):
    async def main():
        return await netdl.download_async(f"{server}/bytes/400000", "a/a.bin", user_data=("k", 1))

    end, loop = run(main)
    assert end.phase == "ended" and end.ok and end.status == 200 and not end.is_error
    assert end.user_data == ("k", 1) and end.filename == "a/a.bin"
    assert end.path == str(docs / "a" / "a.bin") and end.bytes_transferred == 400000
    assert (docs / "a" / "a.bin").read_bytes() == pattern(400000)
    assert loop.calls == [("add", netdl._fd), ("remove", netdl._fd)]
    assert end.id not in netdl._live and settled()


def test_request_async_returns_body_and_status(server):
    async def main():
        return await asyncio.gather(netdl.request_async(f"{server}/text/1000"),
                                    netdl.request_async(f"{server}/status/404", "POST", body=b"x"))

    (text, missing), _ = run(main)
    assert text.ok and text.status == 200 and text.body == bytes(97 + i % 26 for i in range(1000))
    assert text.path is None and text.response_type == "text"
    assert (missing.is_error, missing.status, missing.body) == (False, 404, b"status 404")
    assert settled()


def test_200_concurrent_downloads_one_reader_no_thread(server, docs):
    threads = threading.active_count()
    sizes = [(i * 7919) % 100_000 + i % 3 for i in range(200)]

    async def main():
        loop = asyncio.get_running_loop()
        started = [netdl.download_async(f"{server}/bytes/{n}", f"g/{i}.bin", user_data=i)
                   for i, n in enumerate(sizes)]

        async def count_threads_meanwhile():
            await asyncio.sleep(0)  # one loop step: every download is awaiting
            assert len(netdl._loops) == 1 and netdl._loops[loop].count == 200
            return threading.active_count()

        *ends, during = await asyncio.gather(*started, count_threads_meanwhile())
        # Once and once only: every await shared the reader; the last removed it.
        assert loop.calls == [("add", netdl._fd), ("remove", netdl._fd)]
        assert loop.remove_reader(netdl._fd) is False  # not registered any more
        return ends, during

    (ends, during), loop = run(main)
    assert during == threading.active_count() == threads
    assert [e.user_data for e in ends] == list(range(200))
    for i, (end, n) in enumerate(zip(ends, sizes)):
        assert end.ok and end.bytes_transferred == n, end
        assert (docs / "g" / f"{i}.bin").read_bytes() == pattern(n)
    assert len({e.id for e in ends}) == 200 and settled()


def test_cancelling_the_task_cancels_the_download(server, docs, cancels):
    async def main():
        async with watching() as (seen, until):
            task = asyncio.create_task(netdl.download_async(
                server + SLOW, "slow.bin", progress=True, user_data="slow"))
            mid = await until(lambda e: e.user_data == "slow" and e.phase == "progress"
                              and e.bytes_transferred > 0)
            assert mid.bytes_transferred < 300000
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert cancels == [(mid.id, True)]
            # Events of later requests come; none of the cancelled one does.
            marker = await netdl.download_async(f"{server}/bytes/10", "marker.bin")
            await until(lambda e: e.id == marker.id)
        return mid, seen

    (mid, seen), _ = run(main)
    phases = [e.phase for e in seen if e.id == mid.id]
    assert phases[0] == "began" and set(phases[1:]) == {"progress"}
    assert netdl.cancel(mid.id) is False and mid.id not in netdl._live
    assert sorted(os.listdir(docs)) == ["marker.bin"]
    assert settled()


def test_wait_for_timeout_cancels_the_download(server, docs, cancels):
    async def main():
        async with watching() as (seen, until):
            t0 = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(netdl.download_async(server + SLOW, "slow.bin"), 0.3)
            assert time.monotonic() - t0 < 2
            marker = await netdl.request_async(f"{server}/bytes/10")
            await until(lambda e: e.id == marker.id)
        return seen, marker

    (seen, marker), _ = run(main)
    [(rid, live)] = cancels
    assert live and rid not in netdl._live
    assert seen == [marker]  # nothing of the cancelled download
    assert os.listdir(docs) == []
    assert settled()


def test_cancel_of_an_awaited_id_raises_cancelled_error(server, docs):
    async def main():
        async with watching() as (seen, until):
            task = asyncio.create_task(netdl.download_async(server + SLOW, "slow.bin",
                                                            progress=True))
            began = await until(lambda e: e.phase == "began")
            assert netdl.cancel(began.id) is True
            with pytest.raises(asyncio.CancelledError):
                await task
        return began

    began, _ = run(main)
    assert began.id not in netdl._live and settled()
    assert not (docs / "slow.bin").exists()


def test_aevents_yields_began_progress_ended(server, docs):
    rid = netdl.download(f"{server}/slow/50000?ms=20", "p.bin", progress=True, user_data="p")

    async def main():
        return [ev async for ev in netdl.aevents(rid)]

    evs, loop = run(main)
    phases = [e.phase for e in evs]
    assert phases[0] == "began" and phases[-1] == "ended" and "progress" in phases
    assert set(phases[1:-1]) == {"progress"}
    assert {e.id for e in evs} == {rid} and {e.user_data for e in evs} == {"p"}
    counts = [e.bytes_transferred for e in evs]
    assert counts == sorted(counts) and counts[-1] == 50000 and 0 < counts[1] < 50000
    assert evs[-1].ok and (docs / "p.bin").read_bytes() == pattern(50000)
    assert loop.calls == [("add", netdl._fd), ("remove", netdl._fd)]
    assert settled()


def test_aevents_stops_at_a_cancel_of_its_id(server, docs):
    rid = netdl.download(server + SLOW, "slow.bin", progress=True)

    async def main():
        got = []
        async for ev in netdl.aevents(rid):
            got.append(ev)
            if ev.phase == "progress":
                assert netdl.cancel(rid) is True
        return got

    got, _ = run(main)
    assert [e.phase for e in got][:2] == ["began", "progress"] and got[-1].phase == "progress"
    assert {e.id for e in got} == {rid} and rid not in netdl._live and settled()
    assert not (docs / "slow.bin").exists()


def test_aevents_of_several_ids_and_of_ids_not_live(server, docs):
    ids = [netdl.request(f"{server}/bytes/{n}", user_data=n) for n in (1, 2, 3)]

    async def main():
        got = [ev async for ev in netdl.aevents(*ids)]
        gone = [ev async for ev in netdl.aevents(*ids, 10**9)]  # ended already / unknown
        return got, gone

    (got, gone), _ = run(main)
    assert sorted((e.id, e.phase, e.body) for e in got) == [
        (rid, "ended", pattern(n)) for rid, n in zip(ids, (1, 2, 3))]
    assert gone == [] and settled()


def test_refused_connection_is_an_error_event(docs):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        url = f"http://127.0.0.1:{s.getsockname()[1]}/x"

        async def main():
            return await asyncio.gather(netdl.request_async(url),
                                        netdl.download_async(url, "r.bin"))

        ends, _ = run(main)
    for end in ends:
        assert end.phase == "ended" and end.is_error and not end.ok and end.status == 0
        assert end.error_code is netdl.ErrorCode.CONNECT and end.error
    assert os.listdir(docs) == [] and settled()


def test_sync_events_a_loop_took_wait_for_poll(server, docs):
    import select
    rid = netdl.download(f"{server}/bytes/10", "sync.bin", user_data="sync")
    # Its ended event waits in the library: the loop's reader will take it.
    fd = netdl._lib.net_queue_event_fd(netdl._queue)
    assert select.select([fd], [], [], 10)[0] == [fd]

    async def main():
        return await netdl.request_async(f"{server}/text/3")

    end, _ = run(main)
    assert end.body == b"abc"
    assert [(e.id, e.phase) for e in netdl._backlog] == [(rid, "ended")]
    assert [(e.id, e.phase, e.user_data) for e in netdl.poll()] == [(rid, "ended", "sync")]
    assert netdl.poll() == [] and settled()


def test_an_await_resolves_when_another_thread_takes_its_event(server, docs):
    got = []
    waiter = threading.Thread(target=lambda: got.extend(netdl.wait(20)))
    waiter.start()
    deadline = time.monotonic() + 10
    while not netdl._poll_lock.locked():  # the thread is waiting in the library
        assert time.monotonic() < deadline
        time.sleep(0.001)

    async def main():
        return await asyncio.gather(*(netdl.request_async(f"{server}/bytes/{n}")
                                      for n in range(1, 51)))

    try:
        ends, _ = run(main)
    finally:  # the thread returns with this, whatever happened
        marker = netdl.download(f"{server}/bytes/10", "m.bin")
        waiter.join(20)
    assert [e.body for e in ends] == [pattern(n) for n in range(1, 51)]
    assert [(e.id, e.phase) for e in got] == [(marker, "ended")]
    assert settled()


def test_a_loop_that_ends_with_a_download_running_cancels_it(server, docs, cancels):
    async def main():
        asyncio.create_task(netdl.download_async(server + SLOW, "left.bin"))
        await asyncio.sleep(0)  # one loop step: it is awaiting
        assert len(netdl._loops) == 1

    _, loop = run(main)  # closing the loop cancels the task (as asyncio.run does)
    [(rid, live)] = cancels
    assert live and rid not in netdl._live
    assert loop.calls == [("add", netdl._fd), ("remove", netdl._fd)]
    assert settled() and not (docs / "left.bin").exists()


def test_a_loop_closed_while_awaiting_is_forgotten(server, docs, cancels):
    import select
    loop = asyncio.new_event_loop()
    task = loop.create_task(netdl.download_async(server + SLOW, "left.bin", progress=True))
    loop.run_until_complete(asyncio.sleep(0))  # one loop step: it is awaiting
    assert netdl._loops[loop].count == 1
    loop.close()  # with the task pending: never to run again
    assert task.done() is False
    # Its first event finds the loop closed: the download is cancelled.
    fd = netdl._lib.net_queue_event_fd(netdl._queue)
    assert select.select([fd], [], [], 10)[0] == [fd]
    assert netdl.poll() == []
    [(rid, live)] = cancels
    assert live and rid not in netdl._live and settled()
    assert not (docs / "left.bin").exists()
    task._log_destroy_pending = False  # pending for good, on purpose: no warning when collected


def test_shutdown_ends_awaits_and_takes_the_reader_out_first(server, tmp_path):
    code = f"""
import asyncio, os
import netdl
netdl.set_directory(netdl.DOCUMENTS, {str(tmp_path)!r})

def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False

class Loop(asyncio.SelectorEventLoop):
    calls = []
    def add_reader(self, fd, *args):
        self.calls.append(("add", is_open(fd)))
        return super().add_reader(fd, *args)
    def remove_reader(self, fd):
        self.calls.append(("remove", is_open(fd)))
        return super().remove_reader(fd)

async def main():
    dl = asyncio.create_task(netdl.download_async({server + SLOW!r}, "s.bin"))
    async def first_event():
        return await anext(netdl.aevents())
    watch = asyncio.create_task(first_event())
    await asyncio.sleep(0)  # one loop step: both await
    netdl.shutdown()
    for task, what in ((dl, RuntimeError), (watch, StopAsyncIteration)):
        try:
            await task
        except what:
            pass
    try:
        await netdl.request_async({server + '/bytes/1'!r})
    except RuntimeError as e:
        print("after:", e)
    assert [ev async for ev in netdl.aevents()] == []
    print(Loop.calls)

with asyncio.Runner(loop_factory=Loop) as runner:
    runner.run(main())
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env=env)
    assert out.stdout.splitlines() == ["after: netdl.shutdown() was called",
                                       "[('add', True), ('remove', True)]", "ok"], out.stderr
    assert list(tmp_path.iterdir()) == []
