//! Bandwidth caps: a download capped at 5 MiB/s (its own `max_speed`, or
//! the global `set_max_speed`) takes 10 s ± 5 % for 50 MiB; four transfers
//! under a global cap share it by priority, and `set_priority` on running
//! ones changes their shares; a new cap applies within a second; a paced
//! transfer does not hit its inactivity timeout.
//!
//! These are timed tests by the decision: the cap is a rate, so
//! the outcome is a duration or bytes over a window. Rates are measured
//! here, from the byte counts that progress events carry (read when the
//! event is polled, so each sample is that moment's count).

mod common;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use netdl::{Event, Fetch, Options, Phase};
use support::{Asset, Server};

const MIB: u64 = 1024 * 1024;

fn capped(priority: i32, max_speed: u64) -> Options {
    Options {
        progress: true,
        fetch: Fetch {
            priority,
            max_speed,
            ..Fetch::default()
        },
        ..Options::default()
    }
}

/// What the test saw of its requests, with the time it saw it.
#[derive(Default)]
struct Watch {
    began: HashMap<u64, Instant>,
    /// (when polled, bytes transferred) of every event.
    samples: HashMap<u64, Vec<(Instant, i64)>>,
    ended: HashMap<u64, (Instant, Event)>,
}

impl Watch {
    /// Polls events for up to `wait`.
    fn poll(&mut self, t: &TestClient, wait: Duration) {
        for ev in t.client.wait(wait) {
            let now = Instant::now();
            if ev.phase == Phase::Began {
                self.began.insert(ev.id, now);
            }
            let samples = self.samples.entry(ev.id).or_default();
            samples.push((now, ev.bytes_transferred));
            if ev.phase == Phase::Ended {
                self.ended.insert(ev.id, (now, ev));
            }
        }
    }

    /// Polls until `done` holds; fails the test after `limit`.
    fn until(&mut self, t: &TestClient, limit: Duration, done: impl Fn(&Watch) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(Instant::now() < deadline, "not done within {limit:?}");
            self.poll(t, Duration::from_millis(10));
        }
    }

    /// Polls until `at`.
    fn until_time(&mut self, t: &TestClient, at: Instant) {
        while let Some(left) = at.checked_duration_since(Instant::now()) {
            self.poll(t, left.min(Duration::from_millis(10)));
        }
    }

    /// Bytes per second of `id` between its first sample at or after
    /// `from` and its last at or before `to`.
    fn rate(&self, id: u64, from: Instant, to: Instant) -> f64 {
        let s = &self.samples[&id];
        let first = s.iter().find(|(at, _)| *at >= from).unwrap();
        let last = s.iter().rev().find(|(at, _)| *at <= to).unwrap();
        let span = (last.0 - first.0).as_secs_f64();
        assert!(span > 0.8 * (to - from).as_secs_f64(), "too few samples");
        (last.1 - first.1) as f64 / span
    }
}

/// Downloads 50 MiB with `opts` (under the client's cap, if set) and
/// returns the time from its `began` to its `ended`; the file must be
/// byte-exact.
fn fifty_mib(t: &TestClient, opts: Options) -> Duration {
    let server = Server::start();
    let data = support::body(50 * MIB as usize, 50);
    server.put("/50.bin", Asset::new(data.clone()));
    let id = t.download(&server.url("/50.bin"), "f.bin", opts);
    let mut w = Watch::default();
    w.until(t, Duration::from_secs(30), |w| w.ended.contains_key(&id));
    let (ended_at, ended) = &w.ended[&id];
    assert!(!ended.is_error(), "{:?}", ended.error);
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == data,
        "bytes differ"
    );
    *ended_at - w.began[&id]
}

/// Rule (the test): 50 MiB capped at 5 MiB/s by its own
/// `max_speed` takes 10 s ± 5 %.
#[test]
fn own_cap_fifty_mib_at_five_mib_per_second_takes_ten_seconds() {
    let t = TestClient::new();
    let took = fifty_mib(&t, capped(0, 5 * MIB));
    let secs = took.as_secs_f64();
    eprintln!("50 MiB at 5 MiB/s: {secs:.3} s");
    assert!((9.5..=10.5).contains(&secs), "took {secs:.2} s");
}

/// Rule: the same under the global cap.
#[test]
fn global_cap_fifty_mib_at_five_mib_per_second_takes_ten_seconds() {
    let t = TestClient::new();
    t.client.set_max_speed(5 * MIB);
    let took = fifty_mib(&t, capped(0, 0));
    let secs = took.as_secs_f64();
    eprintln!("50 MiB at 5 MiB/s: {secs:.3} s");
    assert!((9.5..=10.5).contains(&secs), "took {secs:.2} s");
}

/// Rule: four running transfers of priorities 0, 1, 2, 3 share a global
/// cap as 1 : 2 : 3 : 4 (weight = 1 + priority − the lowest), together at
/// the cap; swapping two priorities with `set_priority` while they run
/// swaps their shares.
///
/// Tolerance: a paced transfer takes its rate over a window within one
/// burst (100 ms of its rate) and one 16 KiB chunk, and each sample is
/// exact to a chunk: over a 3 s window that is under 4 % for the smallest
/// share (0.8 MiB/s). Each share must be within 10 % of its target, the
/// sum within 5 % of the cap (the accuracy).
#[test]
fn four_transfers_share_a_global_cap_by_priority() {
    const CAP: u64 = 8 * MIB;
    let server = Server::start();
    let data = support::body(32 * MIB as usize, 4);
    let t = TestClient::new();
    t.client.set_max_speed(CAP);
    let ids: Vec<u64> = (0..4)
        .map(|p| {
            let path = format!("/{p}.bin");
            server.put(&path, Asset::new(data.clone()));
            t.download(&server.url(&path), &format!("{p}.bin"), capped(p, 0))
        })
        .collect();
    let mut w = Watch::default();
    w.until(&t, Duration::from_secs(10), |w| {
        ids.iter().all(|id| w.began.contains_key(id))
    });
    let check = |w: &Watch, from: Instant, weights: [f64; 4]| {
        let to = from + Duration::from_secs(3);
        let rates: Vec<f64> = ids.iter().map(|&id| w.rate(id, from, to)).collect();
        let total: f64 = rates.iter().sum();
        let shown: Vec<String> = rates
            .iter()
            .map(|r| format!("{:.2}", r / MIB as f64))
            .collect();
        eprintln!("shares {weights:?}: {shown:?} MiB/s");
        assert!(
            (total / CAP as f64 - 1.0).abs() <= 0.05,
            "total {:.2} MiB/s: {shown:?}",
            total / MIB as f64
        );
        for (rate, weight) in rates.iter().zip(weights) {
            let want = CAP as f64 * weight / 10.0;
            assert!(
                (rate / want - 1.0).abs() <= 0.10,
                "{shown:?} for {weights:?}"
            );
        }
    };
    // A second to settle, then three of measure.
    let from = Instant::now() + Duration::from_secs(1);
    w.until_time(
        &t,
        from + Duration::from_secs(3) + Duration::from_millis(150),
    );
    check(&w, from, [1.0, 2.0, 3.0, 4.0]);
    assert!(t.client.set_priority(ids[0], 3), "running");
    assert!(t.client.set_priority(ids[3], 0), "running");
    let from = Instant::now() + Duration::from_secs(1);
    w.until_time(
        &t,
        from + Duration::from_secs(3) + Duration::from_millis(150),
    );
    check(&w, from, [4.0, 2.0, 3.0, 1.0]);
    assert!(w.ended.is_empty(), "none ended early");
    for id in ids {
        assert!(t.client.cancel(id));
    }
}

/// Rule: a new global cap applies within a second, up and down; removing
/// it lets the transfer run at full speed.
#[test]
fn changing_the_cap_applies_within_a_second() {
    let server = Server::start();
    let data = support::body(64 * MIB as usize, 64);
    server.put("/64.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    t.client.set_max_speed(2 * MIB);
    let id = t.download(&server.url("/64.bin"), "f.bin", capped(0, 0));
    let mut w = Watch::default();
    w.until(&t, Duration::from_secs(10), |w| w.began.contains_key(&id));
    w.until_time(&t, Instant::now() + Duration::from_secs(1));
    // Each new cap, measured from one second after it was set.
    for cap in [6 * MIB, MIB] {
        t.client.set_max_speed(cap);
        let from = Instant::now() + Duration::from_secs(1);
        let to = from + Duration::from_secs(2);
        w.until_time(&t, to + Duration::from_millis(150));
        let rate = w.rate(id, from, to);
        eprintln!("cap {} MiB/s: {:.3} MiB/s", cap / MIB, rate / MIB as f64);
        assert!(
            (rate / cap as f64 - 1.0).abs() <= 0.10,
            "{:.2} MiB/s under a cap of {} MiB/s",
            rate / MIB as f64,
            cap / MIB
        );
    }
    // About 40 MiB left: seconds at 1 MiB/s, far less at loopback speed.
    t.client.set_max_speed(0);
    let uncapped = Instant::now();
    w.until(&t, Duration::from_secs(20), |w| w.ended.contains_key(&id));
    let (ended_at, ended) = &w.ended[&id];
    assert!(!ended.is_error(), "{:?}", ended.error);
    let secs = (*ended_at - uncapped).as_secs_f64();
    eprintln!("the rest without a cap: {secs:.2} s");
    assert!(secs < 5.0, "{secs:.2} s for the rest without a cap");
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == data,
        "bytes differ"
    );
}

/// Rule: a transfer paused by pacing is not idle: with a 300 ms
/// inactivity timeout and a cap that pauses it about 0.7 s between
/// chunks, it completes (slowly) instead of timing out.
#[test]
fn a_paced_transfer_does_not_time_out() {
    let server = Server::start();
    let data = support::body(96 * 1024, 96);
    server.put("/96k.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    let opts = Options {
        timeout: Some(Duration::from_millis(300)),
        ..capped(0, 24 * 1024)
    };
    let started = Instant::now();
    let id = t.download(&server.url("/96k.bin"), "f.bin", opts);
    let ended = t
        .events_until_ended(id, Duration::from_secs(20))
        .pop()
        .unwrap();
    assert!(!ended.is_error(), "{:?}", ended.error);
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == data,
        "bytes differ"
    );
    // 96 KiB at 24 KiB/s, less the first chunk's: at least 3 s.
    let secs = started.elapsed().as_secs_f64();
    eprintln!("96 KiB at 24 KiB/s: {secs:.2} s");
    assert!(secs >= 3.0, "{secs:.2} s: not paced");
}

/// Rule: a segmented download is one request: its connections share its
/// cap, so 24 MiB in 4 segments at 6 MiB/s takes 4 s ± 5 %, byte-exact.
#[test]
fn a_segmented_download_shares_its_cap_among_its_connections() {
    let server = Server::start();
    let data = support::body(24 * MIB as usize, 24);
    server.put("/24.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    let opts = Options {
        fetch: Fetch {
            segments: 4,
            ..capped(0, 6 * MIB).fetch
        },
        ..capped(0, 6 * MIB)
    };
    let id = t.download(&server.url("/24.bin"), "f.bin", opts);
    let mut w = Watch::default();
    w.until(&t, Duration::from_secs(30), |w| w.ended.contains_key(&id));
    let (ended_at, ended) = &w.ended[&id];
    assert!(!ended.is_error(), "{:?}", ended.error);
    assert!(
        std::fs::read(t.docs("f.bin")).unwrap() == data,
        "bytes differ"
    );
    assert_eq!(server.requests_to("/24.bin").len(), 4, "four connections");
    let secs = (*ended_at - w.began[&id]).as_secs_f64();
    eprintln!("24 MiB in 4 segments at 6 MiB/s: {secs:.3} s");
    assert!((3.8..=4.2).contains(&secs), "took {secs:.2} s");
}

/// Rule: under a global cap, a request's own `max_speed` still holds, and
/// what it leaves goes to the others: a cap of 8 MiB/s with one request
/// capped at 1 MiB/s leaves 7 MiB/s to the other (of the same priority).
#[test]
fn an_own_cap_under_the_global_cap() {
    const CAP: u64 = 8 * MIB;
    let server = Server::start();
    let data = support::body(32 * MIB as usize, 8);
    server.put("/a.bin", Asset::new(data.clone()));
    server.put("/b.bin", Asset::new(data.clone()));
    let t = TestClient::new();
    t.client.set_max_speed(CAP);
    let slow = t.download(&server.url("/a.bin"), "a.bin", capped(0, MIB));
    let fast = t.download(&server.url("/b.bin"), "b.bin", capped(0, 0));
    let mut w = Watch::default();
    w.until(&t, Duration::from_secs(10), |w| {
        w.began.contains_key(&slow) && w.began.contains_key(&fast)
    });
    let from = Instant::now() + Duration::from_secs(1);
    let to = from + Duration::from_secs(3);
    w.until_time(&t, to + Duration::from_millis(150));
    let (a, b) = (w.rate(slow, from, to), w.rate(fast, from, to));
    eprintln!(
        "own cap 1 MiB/s under 8: {:.3} and {:.3} MiB/s",
        a / MIB as f64,
        b / MIB as f64
    );
    assert!((a / MIB as f64 - 1.0).abs() <= 0.10, "{a}");
    assert!((b / (CAP - MIB) as f64 - 1.0).abs() <= 0.10, "{b}");
    assert!(t.client.cancel(slow) && t.client.cancel(fast));
}
