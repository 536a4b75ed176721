//! Many requests at once: all byte-exact, with a bounded number of
//! connections however many are queued.

mod common;
mod support;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use netdl::{Options, Phase};
use support::Server;

/// Rule: 200 concurrent downloads each get exactly one `ended` and a
/// byte-exact file.
#[test]
fn two_hundred_concurrent_downloads() {
    let server = Server::start();
    let t = TestClient::new();
    let mut ids = HashMap::new();
    for i in 0..200u64 {
        let id = t.download(
            &server.url(&format!("/bytes/{}?seed={i}", 1000 + i * 37)),
            &format!("f/{i}.bin"),
            Options::default(),
        );
        ids.insert(id, i);
    }
    let mut ended = HashMap::new();
    while ended.len() < ids.len() {
        let events = t.client.wait(Duration::from_secs(20));
        assert!(
            !events.is_empty(),
            "stalled with {} of {} ended",
            ended.len(),
            ids.len()
        );
        for ev in events {
            assert_eq!(ev.phase, Phase::Ended);
            assert!(ended.insert(ev.id, ev).is_none(), "one ended per id");
        }
    }
    for (id, i) in &ids {
        let ev = &ended[id];
        assert!(!ev.is_error(), "{:?}", ev.error);
        let data = std::fs::read(t.docs(&format!("f/{i}.bin"))).unwrap();
        assert_eq!(data, support::body((1000 + i * 37) as usize, *i));
    }
    assert!(no_temp_files(t.dir.path()));
}

/// Rule: at most `transfers` requests run at once; the rest wait in a
/// queue that holds no socket.
#[test]
fn queue_limits_connections() {
    let server = Server::start();
    let t = TestClient::new();
    t.client.set_limits(4, 4).unwrap();
    let ids: Vec<u64> = (0..40)
        .map(|i| {
            t.download(
                &server.url("/delay/20/100"),
                &format!("{i}.bin"),
                Options::default(),
            )
        })
        .collect();
    for id in ids {
        assert!(!t.ended(id).is_error());
    }
    assert!(
        server.max_concurrent_connections() <= 4,
        "{}",
        server.max_concurrent_connections()
    );
    assert!(
        server.connections() <= 4,
        "keep-alive reuses connections: {}",
        server.connections()
    );
}

/// Rule: the default limit keeps at most 64 transfers running, so 300
/// queued requests never open 300 sockets.
#[test]
fn default_limit_is_64() {
    let server = Server::start();
    let t = TestClient::new();
    let ids: Vec<u64> = (0..300)
        .map(|i| {
            t.download(
                &server.url("/delay/30/10"),
                &format!("{i}.bin"),
                Options::default(),
            )
        })
        .collect();
    for id in ids {
        assert!(!t.ended(id).is_error());
    }
    assert!(
        server.max_concurrent_connections() <= 64,
        "{}",
        server.max_concurrent_connections()
    );
}

/// Rule: the queue drains by itself: when the running transfers all end in
/// the same turn of the network thread, the next ones start at once (a
/// regression: the thread went to sleep with requests still queued).
#[test]
fn queue_drains_one_at_a_time() {
    let server = Server::start();
    let t = TestClient::new();
    t.client.set_limits(1, 1).unwrap();
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            t.download(
                &server.url("/bytes/10"),
                &format!("{i}.bin"),
                Options::default(),
            )
        })
        .collect();
    for id in ids {
        let events = t.events_until_ended(id, Duration::from_secs(5));
        assert!(!events.last().unwrap().is_error());
    }
}
