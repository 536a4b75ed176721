//! Priorities: with one transfer slot, queued requests start highest
//! priority first and in submission order within a priority (the order the
//! server receives them); `set_priority` moves a queued request, is true
//! for a running one, and false for ids that are not live.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use netdl::{Fetch, Options, Phase};
use support::{Asset, Fault, Server};

fn with_priority(priority: i32) -> Options {
    Options {
        fetch: Fetch {
            priority,
            ..Fetch::default()
        },
        ..Options::default()
    }
}

/// A client limited to one transfer, whose slot a download that stalls
/// after its first bytes holds (its `began` arrived); returns its id.
fn one_slot_held(server: &Server) -> (TestClient, u64) {
    server.put("/hold.bin", Asset::new(support::body(100_000, 1)));
    server.script("/hold.bin", vec![Fault::StallAt(1000)]);
    let t = TestClient::new();
    t.client.set_limits(1, 8).unwrap();
    let id = t.download(&server.url("/hold.bin"), "hold.bin", opts_progress());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(t.client.wait(Duration::from_millis(50)).iter())
        .any(|e| e.id == id && e.phase == Phase::Began)
    {
        assert!(Instant::now() < deadline, "the first download never began");
    }
    (t, id)
}

/// Queues download `n` of `/p.bin` (each its own file).
fn queue(t: &TestClient, server: &Server, n: usize, opts: Options) -> u64 {
    t.download(
        &server.url(&format!("/p.bin?n={n}")),
        &format!("p{n}.bin"),
        opts,
    )
}

/// Frees the slot (cancels `holder`), waits for every download of `ids`
/// to end well, byte-exact; returns the `n` of the requests to `/p.bin`
/// in the order the server received them.
fn run_all(t: &TestClient, server: &Server, holder: u64, ids: &[u64], data: &[u8]) -> Vec<usize> {
    assert!(t.client.cancel(holder));
    for (n, &id) in ids.iter().enumerate() {
        let ended = t.ended(id);
        assert!(!ended.is_error(), "{n}: {:?}", ended.error);
        assert!(std::fs::read(t.docs(&format!("p{n}.bin"))).unwrap() == data);
    }
    let requests = server.requests_to("/p.bin");
    requests
        .iter()
        .map(|r| r.query("n").unwrap().parse().unwrap())
        .collect()
}

/// Rule: with one slot, queued requests start in priority order (higher
/// first), then submission order; negative priorities and the extremes
/// included.
#[test]
fn queued_requests_start_by_priority_then_submission() {
    let server = Server::start();
    let data = support::body(20_000, 2);
    server.put("/p.bin", Asset::new(data.clone()));
    let (t, holder) = one_slot_held(&server);
    let priorities = [0, 5, -3, 5, 0, i32::MAX, -3, 0, 10, i32::MIN, 2, 10];
    let ids: Vec<u64> = (priorities.iter().enumerate())
        .map(|(n, &p)| queue(&t, &server, n, with_priority(p)))
        .collect();
    let order = run_all(&t, &server, holder, &ids, &data);
    let mut want: Vec<usize> = (0..priorities.len()).collect();
    want.sort_by_key(|&n| std::cmp::Reverse(priorities[n])); // stable
    assert_eq!(order, want);
    assert_eq!(order, [5, 8, 11, 1, 3, 10, 0, 4, 7, 2, 6, 9]);
}

/// Rule: `set_priority` on a queued request moves it behind the requests
/// queued with its new priority (to its own priority: it keeps its
/// place); it is true for the running request, false for unknown,
/// cancelled and ended ids.
#[test]
fn set_priority_reorders_queued_requests() {
    let server = Server::start();
    let data = support::body(20_000, 3);
    server.put("/p.bin", Asset::new(data.clone()));
    let (t, holder) = one_slot_held(&server);
    let ids: Vec<u64> = (0..7)
        .map(|n| queue(&t, &server, n, Options::default()))
        .collect();
    assert!(t.client.set_priority(ids[5], 1));
    assert!(t.client.set_priority(ids[0], -1));
    assert!(t.client.set_priority(ids[2], 0), "its own priority");
    assert!(t.client.set_priority(ids[3], 1)); // behind 5
    assert!(t.client.set_priority(ids[1], 4));
    assert!(t.client.set_priority(ids[1], 0)); // back, behind 6
    assert!(t.client.set_priority(holder, 7), "running");
    assert!(!t.client.set_priority(999_999, 1), "unknown");
    assert!(!t.client.set_priority(0, 1), "never an id");
    let order = run_all(&t, &server, holder, &ids, &data);
    assert_eq!(order, [5, 3, 2, 4, 6, 1, 0]);
    assert!(!t.client.set_priority(holder, 1), "cancelled");
    assert!(!t.client.set_priority(ids[4], 1), "ended");
}
