//! Event queues (Rust side) and upload progress: events of a request go to
//! the queue it names and to no other, a rejected request reports in its
//! own queue, a destroyed queue ends its requests silently; with upload
//! progress, `began` and `progress` count the request body.

mod common;
mod support;

use std::time::Duration;

use common::*;
use netdl::{Body, Event, Options, Phase};
use support::Server;

/// Every event of `queue` until `id` ended (fails after 10 s).
fn until_ended(tc: &TestClient, queue: &netdl::Queue, id: u64) -> Vec<Event> {
    let mut got = Vec::new();
    for _ in 0..100 {
        for ev in tc
            .client
            .wait_queue(Some(queue), Duration::from_millis(100))
        {
            assert_eq!(ev.id, id, "an event of another request: {ev:?}");
            let ended = ev.phase == Phase::Ended;
            got.push(ev);
            if ended {
                return got;
            }
        }
    }
    panic!("no ended event for {id}: {got:?}");
}

/// Rule: a request's events, and a rejected request's `ended`, arrive on
/// the queue it names only; the default queue sees none of them.
#[test]
fn events_go_to_the_named_queue_only() {
    let server = Server::start();
    let tc = TestClient::new();
    let q = tc.client.create_queue().unwrap();
    let opts = || Options {
        queue: Some(q.clone()),
        progress: true,
        ..Options::default()
    };
    let id = tc.download(&server.url("/bytes/5000?seed=3"), "q.bin", opts());
    let evs = until_ended(&tc, &q, id);
    let phases: Vec<Phase> = evs.iter().map(|e| e.phase).collect();
    assert_eq!(phases.first(), Some(&Phase::Began));
    assert_eq!(phases.last(), Some(&Phase::Ended));
    assert_eq!(
        std::fs::read(tc.docs("q.bin")).unwrap(),
        support::body(5000, 3)
    );
    let bad = tc.client.request("gopher://x/", "GET", opts());
    let evs = until_ended(&tc, &q, bad);
    assert_eq!(evs.len(), 1);
    assert_eq!(
        evs[0].error.as_ref().unwrap().kind,
        netdl::ErrorKind::UnsupportedScheme
    );
    assert!(tc.client.wait(Duration::from_millis(200)).is_empty());
}

/// Rule: destroying a queue cancels its running and queued requests
/// without an event (their ids are no longer live), leaves other queues'
/// requests alone, and a destroyed queue takes no new request (id 0).
#[test]
fn destroyed_queue_ends_its_requests_silently() {
    let server = Server::start();
    let tc = TestClient::new();
    tc.client.set_limits(2, 2).unwrap();
    let q = tc.client.create_queue().unwrap();
    let slow = server.url("/slow/200000?chunk=1000&ms=20");
    let mine: Vec<u64> = (0..5)
        .map(|i| {
            let opts = Options {
                queue: Some(q.clone()),
                ..Options::default()
            };
            tc.download(&slow, &format!("slow{i}.bin"), opts)
        })
        .collect();
    let other = tc.download(&server.url("/bytes/3000"), "other.bin", Options::default());
    tc.client.destroy_queue(&q);
    for id in &mine {
        assert!(!tc.client.cancel(*id), "{id} is still live");
    }
    let evs = tc.events_until_ended(other, Duration::from_secs(10));
    assert!(!evs.last().unwrap().is_error());
    assert_eq!(
        std::fs::read(tc.docs("other.bin")).unwrap(),
        support::body(3000, 0)
    );
    let late = Options {
        queue: Some(q.clone()),
        ..Options::default()
    };
    assert_eq!(tc.client.request(&server.url("/bytes/1"), "GET", late), 0);
    assert!(tc.client.poll_queue(Some(&q)).is_empty());
    for i in 0..5 {
        assert!(!tc.docs(&format!("slow{i}.bin")).exists());
    }
}

/// Rule: with upload progress, `began` comes first with 0 bytes of the
/// body's size, progress counts body bytes up to the whole body (the last
/// one always reported), and `ended` reports the response.
#[test]
fn upload_progress_counts_the_request_body() {
    let server = Server::start();
    let tc = TestClient::new();
    let q = tc.client.create_queue().unwrap();
    let body = support::body(3_000_000, 9);
    let opts = Options {
        queue: Some(q.clone()),
        upload_progress: true,
        body: Some(Body::Bytes(body.clone())),
        ..Options::default()
    };
    let id = tc.client.request(&server.url("/echo"), "PUT", opts);
    let evs = until_ended(&tc, &q, id);
    let (first, rest) = evs.split_first().unwrap();
    assert_eq!(first.phase, Phase::Began);
    assert_eq!(
        (first.bytes_transferred, first.bytes_estimated),
        (0, 3_000_000)
    );
    let (ended, progress) = rest.split_last().unwrap();
    assert!(!progress.is_empty(), "no progress event");
    let mut last = 0;
    for ev in progress {
        assert_eq!(ev.phase, Phase::Progress);
        assert_eq!(ev.bytes_estimated, 3_000_000);
        assert!(ev.bytes_transferred >= last && ev.bytes_transferred <= 3_000_000);
        last = ev.bytes_transferred;
    }
    assert_eq!(last, 3_000_000, "the whole body is reported");
    assert_eq!(ended.phase, Phase::Ended);
    assert!(!ended.is_error(), "{ended:?}");
    assert_eq!(ended.status, 200);
    let echoed = ended.body.as_ref().unwrap();
    assert!(echoed.ends_with(&body), "the server got the body");
}
