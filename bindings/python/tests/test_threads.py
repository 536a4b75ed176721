"""poll() and wait() from several threads at once: each event is delivered
exactly once, with its memory intact; a blocked wait() holds nothing up."""
import collections
import os
import subprocess
import sys
import threading
import time

import netdl
from conftest import ROOT, pattern, serve


def until(cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_threads_polling_and_waiting_at_once_get_each_event_once(docs):
    big = pattern(300_002)
    with serve(lambda path: (200, [], big[:int(path.rsplit("/", 1)[1])])) as server:
        run_threads(server, docs, big)


def run_threads(server, docs, big):
    count = 240
    expect = {}  # id -> (kind, size, tag)
    lock = threading.Lock()
    seen = []
    ended = collections.Counter()
    all_ended = threading.Event()

    def start(part):
        for i in range(part, count, 2):
            size = (i * 7919) % 300000 + (i % 3)
            tag = ("tag", i)
            if i % 2:
                rid = netdl.request(f"{server}/bytes/{size}", progress=True, user_data=tag)
            else:
                rid = netdl.download(f"{server}/bytes/{size}", f"t/{i}.bin", progress=True,
                                     user_data=tag)
            with lock:
                expect[rid] = ("request" if i % 2 else "download", size, tag, i)

    def take(kind):
        while not all_ended.is_set():
            batch = netdl.poll() if kind == "poll" else netdl.wait(0.05)
            with lock:
                seen.extend(batch)
                ended.update(ev.id for ev in batch if ev.phase == "ended")
                if len(ended) == count:
                    all_ended.set()
            if kind == "poll":
                time.sleep(0.002)  # one frame

    takers = [threading.Thread(target=take, args=(k,)) for k in ("poll", "poll", "wait", "wait")]
    starters = [threading.Thread(target=start, args=(p,)) for p in (0, 1)]
    for t in takers + starters:
        t.start()
    for t in starters:
        t.join()
    assert all_ended.wait(120), f"{len(ended)} of {count} ended"
    for t in takers:
        t.join()

    assert len(expect) == count
    assert set(ended) == set(expect) and set(ended.values()) == {1}
    by_id = collections.defaultdict(list)
    for ev in seen:
        by_id[ev.id].append(ev)
    assert set(by_id) == set(expect)
    for rid, (kind, size, tag, i) in expect.items():
        evs = by_id[rid]
        assert [e.phase for e in evs].count("began") <= 1
        assert all(e.user_data == tag for e in evs)
        end = next(e for e in evs if e.phase == "ended")
        assert end.ok and end.bytes_transferred == size, end
        assert end.url == f"{server}/bytes/{size}"
        assert end.headers["content-length"] == str(size)
        if kind == "request":
            assert end.body == big[:size]
        else:
            assert end.path == str(docs / "t" / f"{i}.bin")
            assert (docs / "t" / f"{i}.bin").read_bytes() == big[:size]


def test_a_blocked_wait_holds_up_neither_download_cancel_nor_poll(server, docs):
    got = []
    waiter = threading.Thread(target=lambda: got.extend(netdl.wait(30)))
    waiter.start()
    until(netdl._poll_lock.locked)
    t0 = time.monotonic()
    assert netdl.poll() == []
    slow = netdl.download(f"{server}/slow/100000?ms=50", "slow.bin")
    assert netdl.cancel(slow) is True
    rid = netdl.download(f"{server}/bytes/10", "ten.bin", user_data="ten")
    assert time.monotonic() - t0 < 1.0
    waiter.join(30)
    assert [(e.id, e.phase, e.user_data) for e in got] == [(rid, "ended", "ten")]
    assert (docs / "ten.bin").read_bytes() == pattern(10) and not (docs / "slow.bin").exists()


def test_shutdown_while_threads_wait_and_transfers_run(server, tmp_path):
    code = f"""
import threading, time
import netdl
netdl.set_directory(netdl.DOCUMENTS, {str(tmp_path)!r})
ids = [netdl.download({server!r} + "/slow/100000?ms=20", "s%d.bin" % i) for i in range(4)]
results = []
def waiter():
    while True:
        batch = netdl.wait(None)
        if not batch:
            results.append("returned")
            return
threads = [threading.Thread(target=waiter) for _ in range(3)]
for t in threads:
    t.start()
while not netdl._poll_lock.locked():
    time.sleep(0.001)
netdl.shutdown()
for t in threads:
    t.join(5)
assert results == ["returned"] * 3, results
assert netdl.poll() == [] and netdl.wait(0.01) == [] and netdl.download({server!r} + "/bytes/1", "x") == 0
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=env)
    assert out.stdout.strip() == "ok", out.stderr
    assert list(tmp_path.iterdir()) == []
