//! `cancel` is silent and final: true only while the request is live, and
//! no event of a cancelled id is ever delivered, even one already queued.
//! Every case runs on both temporary-file paths (unnamed, and named with
//! `NETDL_TEMP_FILE=named` in a child process).

mod both_paths;
mod common;
mod support;

use std::time::Duration;

use common::*;
use netdl::Options;
use support::Server;

/// Rule: cancelling a running download returns true, delivers nothing
/// more, and removes its temporary file.
#[test]
fn cancel_running_download() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(
        &server.url("/stall-after-headers?len=100000"),
        "c.bin",
        opts_progress(),
    );
    // Wait until the transfer is surely running: its `began` arrived.
    let began = t.client.wait(Duration::from_secs(10));
    assert_eq!(began.len(), 1);
    // The body's temporary file: `.c.bin.netdl-ID.part` on the named path.
    let writing = both_paths::temp_files_while_writing(&t.docs("c.bin"), id);
    assert_eq!(t.files(), writing);
    assert!(t.client.cancel(id));
    assert!(!t.client.cancel(id), "second cancel: no longer live");
    // A later request on the same client completes, and nothing of `id` shows up.
    let other = t.download(&server.url("/bytes/10"), "o.bin", Options::default());
    let events = t.events_until_ended(other, Duration::from_secs(10));
    assert!(events.iter().all(|e| e.id == other));
    assert!(t.client.poll().is_empty());
    assert!(!t.docs("c.bin").exists());
    assert_eq!(
        t.files(),
        vec![t.docs("o.bin")],
        "the temporary file went too"
    );
}

/// Rule: a cancel after the download completed but before its `ended` was
/// polled returns true, suppresses the event, and keeps the finished file.
#[test]
fn cancel_after_completion_before_poll() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(&server.url("/bytes/3000"), "done.bin", Options::default());
    // The file is renamed into place just before `ended` is queued.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !t.docs("done.bin").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::yield_now();
    }
    assert!(t.client.cancel(id));
    // The network thread queued `ended` of `id` before it saw this request,
    // so once this one has ended, that one would have shown up.
    let marker = t
        .client
        .request(&server.url("/bytes/1"), "GET", Options::default());
    let events = t.events_until_ended(marker, Duration::from_secs(10));
    assert!(events.iter().all(|e| e.id == marker), "{events:?}");
    assert!(t.client.poll().iter().all(|e| e.id != id));
    assert_eq!(
        std::fs::read(t.docs("done.bin")).unwrap(),
        support::body(3000, 0)
    );
}

/// Rule: once `ended` was handed out, cancel returns false; unknown ids
/// and 0 return false.
#[test]
fn cancel_after_ended_and_unknown_ids() {
    let server = Server::start();
    let t = TestClient::new();
    let id = t.download(&server.url("/bytes/10"), "x.bin", Options::default());
    t.ended(id);
    assert!(!t.client.cancel(id));
    assert!(!t.client.cancel(0));
    assert!(!t.client.cancel(987_654_321));
}

/// Rule: a request still waiting in the queue is cancelled without ever
/// opening a connection.
#[test]
fn cancel_queued_request() {
    let server = Server::start();
    let t = TestClient::new();
    t.client.set_limits(1, 1).unwrap();
    let blocker = t.download(
        &server.url("/stall-after-headers?len=10"),
        "b.bin",
        opts_progress(),
    );
    t.client.wait(Duration::from_secs(10)); // `began` of the blocker: it holds the only slot
    let queued = t.download(&server.url("/bytes/10"), "q.bin", Options::default());
    assert!(t.client.cancel(queued));
    assert!(t.client.cancel(blocker));
    let after = t.download(&server.url("/bytes/10"), "after.bin", Options::default());
    assert!(!t.ended(after).is_error());
    assert_eq!(
        server.requests(),
        2,
        "the queued request never reached the server"
    );
    assert!(!t.docs("q.bin").exists());
}

/// Rule: cancel is safe from many threads at once; each live id is
/// cancelled exactly once.
#[test]
fn concurrent_cancels_have_one_winner() {
    let server = Server::start();
    let t = TestClient::new();
    let ids: Vec<u64> = (0..50)
        .map(|i| {
            t.download(
                &server.url("/stall-after-headers?len=10"),
                &format!("{i}.bin"),
                Options::default(),
            )
        })
        .collect();
    let wins: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| ids.iter().filter(|id| t.client.cancel(**id)).count()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(wins, ids.len());
    assert!(t.client.poll().is_empty());
}

/// Every case above again, on the named temporary file.
#[test]
fn named_temp_file_path_runs_every_case() {
    both_paths::rerun_named("named_temp_file_path_runs_every_case");
}
